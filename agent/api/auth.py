"""Who is asking: API keys and the users they belong to.

- No key configured: one anonymous user, who sees every thread; the server binds 127.0.0.1.
- ``api_key`` only: one key, still one user who sees every thread (as before users existed).
- Users (``keys_file`` and/or ``users``): each key belongs to a named user, who lists, reads and
  continues only the threads they started; ``api_key``, when also set, is the user ``default``.
  Threads started before users were configured belong to no one and are listed to no one.

Keys file (TOML), a key or its SHA-256 per user::

    [users]
    alice = "ck-2b6f0c1e9d8a47f3b5"
    bob = "sha256:1f9d...64 hex digits"

A malformed file stops the server at start with one line saying what is wrong and where.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import tomllib
from pathlib import Path
from typing import Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from agent.api.errors import ApiError

USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_KEY_CHARS = 16
DEFAULT_USER = "default"


class KeysError(ValueError):
    """A malformed keys file or users setting."""


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


def _parse_entry(user: Any, value: Any, where: str) -> bytes:
    if not isinstance(user, str) or not USER_NAME.match(user):
        raise KeysError(f"{where}: user name {user!r} must be 1-64 characters of A-Z a-z 0-9 . _ @ -")
    if not isinstance(value, str):
        raise KeysError(f"{where}: the key of {user!r} must be a string, not {type(value).__name__}")
    if value.startswith("sha256:"):
        hexdigest = value.removeprefix("sha256:").strip().lower()
        if not re.fullmatch(r"[0-9a-f]{64}", hexdigest):
            raise KeysError(f"{where}: the key of {user!r} must be sha256: and 64 hex digits")
        return bytes.fromhex(hexdigest)
    if len(value.strip()) < MIN_KEY_CHARS or value != value.strip():
        raise KeysError(f"{where}: the key of {user!r} must be at least {MIN_KEY_CHARS} characters without "
                        "surrounding spaces (e.g. python -c 'import secrets; print(secrets.token_urlsafe(24))')")
    return _digest(value)


def read_keys_file(path: Path) -> dict[str, bytes]:
    """``{user: sha256 of key}`` from a keys file; ``KeysError`` saying what is wrong."""
    where = f"keys file {path}"
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise KeysError(f"{where} does not exist") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise KeysError(f"{where} cannot be read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise KeysError(f"{where} is not valid TOML: {exc}") from exc
    unknown = set(data) - {"users"}
    if unknown or not isinstance(data.get("users"), dict) or not data["users"]:
        raise KeysError(f"{where} needs one non-empty [users] table of name = \"key\" lines"
                        + (f" (unknown: {', '.join(sorted(unknown))})" if unknown else ""))
    return {user: _parse_entry(user, value, where) for user, value in data["users"].items()}


class KeyRing:
    """The keys the server accepts and whose they are."""

    def __init__(self, users: dict[str, bytes], single_key: str | None = None) -> None:
        self.single_key = single_key if not users else None
        owners: dict[bytes, str] = {}
        for user, digest in users.items():
            if digest in owners:
                raise KeysError(f"users {owners[digest]!r} and {user!r} have the same key")
            owners[digest] = user
        self.owners = owners

    @classmethod
    def from_settings(cls, settings: Any) -> KeyRing:
        users: dict[str, bytes] = read_keys_file(settings.keys_file) if settings.keys_file else {}
        for user, key in (settings.users or {}).items():
            if user in users:
                raise KeysError(f"user {user!r} is in both the keys file and CORECOVER_USERS")
            users[user] = _parse_entry(user, key.get_secret_value(), "users setting")
        api_key = settings.api_key.get_secret_value() if settings.api_key else None
        if users and api_key:
            if DEFAULT_USER in users:
                raise KeysError(f"api_key is the user {DEFAULT_USER!r}, who is also in the keys file")
            users[DEFAULT_USER] = _digest(api_key)
        return cls(users, api_key)

    @property
    def multi_user(self) -> bool:
        return bool(self.owners)

    @property
    def required(self) -> bool:
        return self.multi_user or self.single_key is not None

    def user_for(self, key: str | None) -> str | None:
        """The user of ``key`` (None in single-user mode); a 401 for a missing or unknown key."""
        if not self.required:
            return None
        given = key or ""
        if self.single_key is not None:
            if secrets.compare_digest(given.encode("utf-8", "surrogatepass"), self.single_key.encode()):
                return None
        else:
            user = self.owners.get(_digest(given))
            if user is not None:
                return user
        raise ApiError(401, "missing or wrong API key: send `Authorization: Bearer <key>`",
                       code="invalid_api_key")


bearer = HTTPBearer(auto_error=False, description="the server's API key, when it has one")


async def current_user(request: Request,
                       credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> str | None:
    """The user making the request: a name with users configured, else None (everyone is one user)."""
    return request.app.state.server.keys.user_for(credentials.credentials if credentials else None)
