"""One settings object for the whole agent: ``CORECOVER_*`` environment variables and an
optional TOML file (``CORECOVER_CONFIG``, else ``./corecover.toml``, else the user config dir).

Environment variables win over the file; the file wins over the defaults.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from platformdirs import user_config_dir, user_data_dir
from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

APP = "corecover"


def config_file() -> Path | None:
    """The TOML file in effect, if any."""
    explicit = os.environ.get("CORECOVER_CONFIG")
    if explicit:
        return Path(explicit)
    for candidate in (Path("corecover.toml"), Path(user_config_dir(APP)) / "config.toml"):
        if candidate.is_file():
            return candidate
    return None


class Settings(BaseSettings):
    """Everything configurable. Each field is also the env var ``CORECOVER_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="CORECOVER_", extra="ignore")

    # reasoner
    reasoner: str = Field("llamacpp:embedded", description="reasoner backend spec")
    reasoner_max_tokens: int | None = Field(None, description="cap on generated tokens (None: preset)")
    reasoner_temperature: float | None = Field(None, description="override the preset temperature")
    reasoner_context: int | None = Field(None, ge=256, description="the reasoner's context in tokens "
                                         "(None: llama.cpp's n_ctx; unknown for an OpenAI-compatible server)")
    think_budget: int | None = Field(None, description="max reasoning tokens before budget forcing")
    tts: Literal["none", "vote", "clr"] = Field("none", description="test-time scaling method")
    tts_k: int = Field(4, ge=1, le=64, description="samples per question for vote/clr")
    calculator: Literal["off", "flag", "inject"] = Field("flag", description="reason route: flag wrong steps or inject exact values")
    # knowledge
    index_dir: Path | None = Field(None, description="retrieval index folder (None: user cache)")
    retriever_backend: Literal["faiss", "qdrant"] = Field("faiss", description="faiss: the index folder "
                                                          "in-process; qdrant: the index exported to Qdrant")
    retriever_url: str | None = Field(None, description="Qdrant URL (server or cluster), or a folder (local mode)")
    retriever_collection: str = Field("corecover", description="Qdrant collection (or alias) of the index")
    retriever_api_key: SecretStr | None = Field(None, description="Qdrant API key")
    retriever_search_ef: int | None = Field(None, ge=1, description="Qdrant hnsw_ef per dense search (None: "
                                            "128; a million passages want ~4096, see bench/retrieval_scale.py)")
    retrieve_k: int = Field(5, ge=1, le=50, description="passages retrieved per question")
    retrieve_rerank: bool = Field(False, description="rerank hybrid hits (`corecover index build --rerank` first)")
    answer_passages: int = Field(3, ge=1, le=20, description="most relevant passages a knowledge answer reads")
    grade_threshold: float = Field(0.35, description="min cosine similarity of a relevant passage")
    embedding_model: str = Field("embedded", description="sentence-transformers model or path")
    knowledge_base_url: str | None = Field(None, description="larger model, OpenAI-compatible base URL")
    knowledge_model: str | None = Field(None, description="larger model name")
    knowledge_api_key: SecretStr | None = Field(None, description="API key of the larger model")
    # agent
    router_path: Path | None = Field(None, description="trained router file (None: bundled)")
    route_threshold: float | None = Field(None, description="calibrated reasoner-route threshold")
    checkpoint_db: Path = Field(Path(user_data_dir(APP)) / "threads.sqlite",
                                description="SQLite file of conversation threads")
    checkpoint_url: str | None = Field(None, description="postgresql://user:pass@host/db: threads in "
                                       "PostgreSQL, shared by several replicas (None: the SQLite file)")
    # server
    host: str = Field("127.0.0.1", description="server bind address")
    port: int = Field(8000, description="server port")
    api_key: SecretStr | None = Field(None, description="API key the server requires")
    keys_file: Path | None = Field(None, description="TOML file mapping users to API keys: [users] name = \"key\"")
    users: dict[str, SecretStr] = Field(default_factory=dict, description="users and their API keys "
                                        "(with the keys file's): each sees only their own threads")
    max_concurrency: int = Field(4, ge=1, description="requests served at once before 429")
    request_timeout: float = Field(300.0, gt=0, description="seconds per request")
    max_body_bytes: int = Field(1_000_000, ge=1024, description="largest request body")
    # eval
    prices: dict[str, Any] = Field(default_factory=dict,
                                   description="USD per 1M tokens: {model: {input: x, output: y}}")

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = config_file()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    def public(self) -> dict[str, Any]:
        """The settings as plain JSON-able values, secrets masked."""
        data = self.model_dump(mode="json")
        for key in ("knowledge_api_key", "api_key", "retriever_api_key"):
            if data.get(key):
                data[key] = "********"
        data["users"] = {user: "********" for user in data.get("users") or {}}
        if data.get("checkpoint_url"):
            from agent.store import mask_url

            data["checkpoint_url"] = mask_url(data["checkpoint_url"])
        return data


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
