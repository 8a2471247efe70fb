"""Fixtures of the reasoner tests: one transformers model load, and a scripted HTTP server."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@pytest.fixture(scope="session")
def hf_backend():
    """The embedded GGUF dequantised by transformers (~25-35 s, so loaded once)."""
    from reasoner import load_backend

    return load_backend("transformers:embedded")


def _chat_completion(content: str, reasoning: str) -> dict:
    return {
        "id": "scripted-1", "object": "chat.completion", "created": 0, "model": "scripted",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content, "reasoning_content": reasoning}}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    }


def _stream_events(content: str, reasoning: str) -> list[dict]:
    def event(delta: dict, finish: str | None = None) -> dict:
        return {"id": "scripted-1", "object": "chat.completion.chunk", "created": 0, "model": "scripted",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    def words(text: str) -> list[str]:
        return re.findall(r"\S+\s*", text)

    return ([event({"role": "assistant", "reasoning_content": part}) for part in words(reasoning)]
            + [event({"content": part}) for part in words(content)] + [event({}, "stop")])


class ScriptedHandler(BaseHTTPRequestHandler):
    """Answers by the first path segment: /500, /malformed, /401, /slow, /reasoning (OpenAI shapes)."""

    REASONING = "Two plus two makes four."
    CONTENT = "The answer is \\boxed{4}."

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: str, content_type: str = "application/json") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._send(200, json.dumps({"object": "list", "data": [{"id": "scripted", "object": "model"}]}))

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        mode = self.path.strip("/").split("/")[0]
        if mode == "500":
            self._send(500, json.dumps({"error": {"message": "model crashed", "type": "server_error"}}))
        elif mode == "malformed":
            self._send(200, '{"choices": [{"message": ')
        elif mode == "401":
            self._send(401, json.dumps({"error": {"message": "bad key", "type": "auth"}}))
        elif mode == "slow":
            time.sleep(5)
            self._send(200, json.dumps(_chat_completion(self.CONTENT, self.REASONING)))
        elif mode == "reasoning" and request.get("stream"):
            body = "".join(f"data: {json.dumps(e)}\n\n" for e in _stream_events(self.CONTENT, self.REASONING))
            self._send(200, body + "data: [DONE]\n\n", "text/event-stream")
        else:
            self._send(200, json.dumps(_chat_completion(self.CONTENT, self.REASONING)))


@pytest.fixture(scope="session")
def scripted_server():
    """A real HTTP server on loopback that answers chat requests as its URL path says.

    ``f"{scripted_server}/500/v1"`` answers 500, ``/malformed/v1`` broken JSON, ``/401/v1``
    401, ``/slow/v1`` after 5 s, ``/reasoning/v1`` a vLLM-style answer with ``reasoning_content``.
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), ScriptedHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
