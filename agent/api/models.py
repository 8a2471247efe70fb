"""The request and error schemas of the API (OpenAI's chat request, with corecover's extensions)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent.api.errors import ApiError

MODEL_ID = "corecover"
THREAD_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """OpenAI's error shape."""

    error: ErrorDetail


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these error statuses."""
    return {status: {"model": ErrorResponse} for status in statuses}


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None

    def text(self) -> str:
        """The message's text (text parts joined; images and other parts left out)."""
        if isinstance(self.content, list):
            return "\n".join(part.text for part in self.content if part.type == "text" and part.text)
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat request; ``thread_id`` and ``route`` are corecover extensions."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [
        {"model": MODEL_ID, "messages": [{"role": "user", "content": "What is 17 * 23?"}]},
        {"model": MODEL_ID, "stream": True, "messages": [{"role": "user", "content": "Who painted the Mona Lisa?"}]},
    ]})
    model: str
    messages: list[ChatMessage] = Field(min_length=1, max_length=2000)
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(None, max_length=256)
    thread_id: str | None = Field(None, pattern=THREAD_ID_PATTERN,
                                  description="corecover: conversation thread to continue")
    route: Literal["reason", "knowledge", "mixed"] | None = Field(
        None, description="corecover: force a route instead of the router's choice")
    n: int | None = Field(None, ge=1, le=1, description="only 1: the agent gives one answer")
    max_tokens: int | None = Field(None, ge=1, description="accepted, ignored")
    max_completion_tokens: int | None = Field(None, ge=1, description="accepted, ignored")
    temperature: float | None = Field(None, ge=0, le=2, description="accepted, ignored")
    top_p: float | None = Field(None, ge=0, le=1, description="accepted, ignored")

    @model_validator(mode="after")
    def _valid_unicode(self) -> ChatCompletionRequest:
        """JSON may escape a lone surrogate (``"\\ud800"``); it is no text and no model can read it."""
        for i, message in enumerate(self.messages):
            found = _SURROGATE.search(message.text() + (message.name or ""))
            if found:
                raise ValueError(f"messages[{i}] holds a lone surrogate (U+{ord(found.group()):04X}), "
                                 "which is not valid Unicode text: send UTF-8 text")
        if self.user and _SURROGATE.search(self.user):
            raise ValueError("user holds a lone surrogate, which is not valid Unicode text")
        return self

    def question(self) -> str:
        """The newest user message: the question the agent answers."""
        last = self.messages[-1]
        text = last.text().strip()
        if last.role != "user" or not text:
            raise ApiError(400, "the last message must be a user message with text (the question)",
                           param="messages")
        return text

    def turns(self) -> list[tuple[str, str]]:
        """(role, text) of every message."""
        return [(m.role, m.text()) for m in self.messages]
