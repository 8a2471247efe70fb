"""Users and their threads: every thread route and ``X-Thread-Id``, per API key (the ``users``
server: alice and bob from a keys file, and the ``api_key`` as the user ``default``)."""

from __future__ import annotations

import json

import httpx
import pytest

pytestmark = pytest.mark.slow


def ask(live, user: str, question: str, **extra) -> httpx.Response:
    headers = {**live.auth(user), **extra.pop("headers", {})}
    body = {"model": "corecover", "messages": [{"role": "user", "content": question}], "route": "reason", **extra}
    return httpx.post(f"{live['users']}/v1/chat/completions", json=body, headers=headers, timeout=120)


def threads_of(live, user: str) -> set[str]:
    response = httpx.get(f"{live['users']}/api/threads", headers=live.auth(user))
    assert response.status_code == 200
    return {t["thread_id"] for t in response.json()["data"]}


@pytest.fixture(scope="module")
def alices(live) -> str:
    """A thread alice started, with one turn."""
    response = ask(live, "alice", "What is 2 + 3?")
    assert response.status_code == 200, response.text
    return response.json()["corecover"]["thread_id"]


def test_each_user_lists_and_reads_only_their_threads(live, alices):
    bobs = ask(live, "bob", "What is 4 + 4?").json()["corecover"]["thread_id"]
    assert alices in threads_of(live, "alice") and bobs not in threads_of(live, "alice")
    assert bobs in threads_of(live, "bob") and alices not in threads_of(live, "bob")

    own = httpx.get(f"{live['users']}/api/threads/{alices}", headers=live.auth("alice"))
    assert own.status_code == 200 and own.json()["messages"][0]["content"] == "What is 2 + 3?"
    # another user's thread answers exactly as an unknown one does
    theirs = httpx.get(f"{live['users']}/api/threads/{alices}", headers=live.auth("bob"))
    unknown = httpx.get(f"{live['users']}/api/threads/t-nobody-has-this", headers=live.auth("bob"))
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json()["error"]["code"] == unknown.json()["error"]["code"] == "thread_not_found"
    assert theirs.json()["error"]["message"].replace(alices, "ID") == \
        unknown.json()["error"]["message"].replace("t-nobody-has-this", "ID")


@pytest.mark.parametrize("how", ["header", "body", "stream"])
def test_another_users_thread_id_is_404_and_leaves_it_alone(live, alices, how):
    before = httpx.get(f"{live['users']}/api/threads/{alices}", headers=live.auth("alice")).json()["messages"]
    extra = {"headers": {"X-Thread-Id": alices}} if how != "body" else {"thread_id": alices}
    response = ask(live, "bob", "What was my last question?", stream=how == "stream", **extra)
    assert response.status_code == 404, response.text      # a stream too: an HTTP error, not a 200 stream
    assert response.json()["error"]["code"] == "thread_not_found"
    after = httpx.get(f"{live['users']}/api/threads/{alices}", headers=live.auth("alice")).json()["messages"]
    assert after == before


def test_owner_continues_by_header_and_by_resent_history(live):
    first = ask(live, "alice", "What is 6 + 1?").json()
    thread = first["corecover"]["thread_id"]
    by_header = ask(live, "alice", "What is 6 + 2?", headers={"X-Thread-Id": thread})
    assert by_header.status_code == 200 and by_header.headers["x-thread-id"] == thread
    history = [{"role": "user", "content": "What is 6 + 1?"},
               {"role": "assistant", "content": first["choices"][0]["message"]["content"]},
               {"role": "user", "content": "What is 6 + 3?"}]
    resent = httpx.post(f"{live['users']}/v1/chat/completions", headers=live.auth("alice"), timeout=120,
                        json={"model": "corecover", "messages": history, "route": "reason"})
    assert resent.json()["corecover"]["thread_id"] == thread
    # bob resending alice's exact conversation gets a thread of his own, not hers
    as_bob = httpx.post(f"{live['users']}/v1/chat/completions", headers=live.auth("bob"), timeout=120,
                        json={"model": "corecover", "messages": history, "route": "reason"})
    assert as_bob.status_code == 200 and as_bob.json()["corecover"]["thread_id"] != thread
    turns = httpx.get(f"{live['users']}/api/threads/{thread}", headers=live.auth("alice")).json()["messages"]
    assert [t["content"] for t in turns if t["role"] == "user"] == ["What is 6 + 1?", "What is 6 + 2?", "What is 6 + 3?"]


def test_keys_name_the_user_and_gate_every_route(live):
    info = httpx.get(f"{live['users']}/api/info", headers=live.auth("bob")).json()
    assert info["user"] == "bob" and info["users"] is True
    default = httpx.get(f"{live['users']}/api/info", headers={"Authorization": f"Bearer {live.key}"}).json()
    assert default["user"] == "default"
    for path in ("/api/threads", "/api/threads/x", "/api/info", "/v1/models", "/docs", "/openapi.json"):
        for headers in ({}, {"Authorization": "Bearer not-a-key-of-anyone"}):
            response = httpx.get(f"{live['users']}{path}", headers=headers)
            assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key", path
    assert httpx.get(f"{live['users']}/healthz").status_code == 200


@pytest.mark.parametrize("server", ["main", "users"])
def test_docs_and_schema_need_the_key(live, server):
    key = {"Authorization": f"Bearer {live.key}"}
    assert httpx.get(f"{live[server]}/openapi.json").status_code == 401
    assert httpx.get(f"{live[server]}/docs").status_code == 401
    schema = httpx.get(f"{live[server]}/openapi.json", headers=key)
    assert schema.status_code == 200 and "/v1/chat/completions" in schema.json()["paths"]
    assert "swagger" in httpx.get(f"{live[server]}/docs", headers=key).text.lower()
    # a server without a key keeps its docs open, as before
    assert httpx.get(f"{live['tight']}/openapi.json").status_code == 200


def test_single_user_mode_sees_every_thread(live):
    """Without users (the ``tight`` server: no key at all) threads are shared, as before users existed."""
    body = {"model": "corecover", "route": "reason", "messages": [{"role": "user", "content": "What is 1 + 8?"}]}
    thread = httpx.post(f"{live['tight']}/v1/chat/completions", json=body, timeout=120).json()["corecover"]["thread_id"]
    listed = httpx.get(f"{live['tight']}/api/threads").json()["data"]
    assert thread in {t["thread_id"] for t in listed}
    assert json.loads(httpx.get(f"{live['tight']}/api/info").text)["user"] is None
