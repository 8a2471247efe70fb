"""The keys file: who each key belongs to, and one clear error for each way it can be wrong."""

from __future__ import annotations

import hashlib

import pytest

from agent.api.auth import KeyRing, KeysError
from agent.api.errors import ApiError
from agent.config import Settings


def ring(tmp_path, text: str | None, **settings) -> KeyRing:
    if text is not None:
        path = tmp_path / "keys.toml"
        path.write_text(text)
        settings["keys_file"] = path
    return KeyRing.from_settings(Settings(**settings))


def test_keys_map_to_users(tmp_path):
    hashed = hashlib.sha256(b"bob-secret-key-0123").hexdigest()
    keys = ring(tmp_path, f'[users]\nalice = "alice-secret-key-01"\nbob = "sha256:{hashed}"\n',
                users={"carol": "carol-secret-key-01"}, api_key="the-old-single-key")
    assert keys.multi_user and keys.required
    assert keys.user_for("alice-secret-key-01") == "alice"
    assert keys.user_for("bob-secret-key-0123") == "bob"
    assert keys.user_for("carol-secret-key-01") == "carol"
    assert keys.user_for("the-old-single-key") == "default"
    for wrong in (None, "", "alice-secret-key-0", f"sha256:{hashed}"):
        with pytest.raises(ApiError) as caught:
            keys.user_for(wrong)
        assert caught.value.status == 401


def test_no_users_is_single_user(tmp_path):
    assert ring(tmp_path, None).user_for(None) is None                 # no key: open, as before
    single = ring(tmp_path, None, api_key="k")
    assert single.user_for("k") is None and not single.multi_user
    with pytest.raises(ApiError):
        single.user_for("other")


@pytest.mark.parametrize(("text", "says"), [
    ('[users\nalice = "alice-secret-key-01"\n', "not valid TOML"),
    ('alice = "alice-secret-key-01"\n', "[users] table"),
    ("[users]\n", "[users] table"),
    ('[users]\nalice = "alice-secret-key-01"\n[admins]\nx = 1\n', "unknown: admins"),
    ('[users]\nalice = "short"\n', "at least 16 characters"),
    ('[users]\nalice = 12345\n', "must be a string"),
    ('[users]\n"al ice" = "alice-secret-key-01"\n', "user name 'al ice'"),
    ('[users]\nalice = "sha256:abc"\n', "64 hex digits"),
    ('[users]\nalice = "same-key-for-both-1"\nbob = "same-key-for-both-1"\n', "have the same key"),
])
def test_malformed_keys_file_is_one_clear_error(tmp_path, text, says):
    with pytest.raises(KeysError) as caught:
        ring(tmp_path, text)
    message = str(caught.value)
    assert says in message and len(message.splitlines()) == 1
    assert "keys.toml" in message or "same key" in message
    assert "alice-secret-key-01" not in message and "same-key-for-both-1" not in message


def test_missing_keys_file(tmp_path):
    with pytest.raises(KeysError, match="does not exist"):
        KeyRing.from_settings(Settings(keys_file=tmp_path / "nope.toml"))
