"""No 5xx for a request the server accepts: questions longer than the reasoner's context, lone
surrogates, and a dead backend while streaming (issue 16)."""

from __future__ import annotations

import json

import httpx
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def key(live) -> dict:
    return {"Authorization": f"Bearer {live.key}"}


def post(live, key, content, thread: str, **body) -> httpx.Response:
    return httpx.post(f"{live['main']}/v1/chat/completions", timeout=120,
                      headers={**key, "X-Thread-Id": thread, "Content-Type": "application/json"},
                      content=json.dumps({"model": "corecover", "messages": [{"role": "user", "content": content}],
                                          **body}) if isinstance(content, str) else content)


def no_thread(live, key, thread: str) -> bool:
    return httpx.get(f"{live['main']}/api/threads/{thread}", headers=key).status_code == 404


def test_the_question_limit_comes_from_the_reasoners_context(live, key):
    info = httpx.get(f"{live['main']}/api/info", headers=key).json()
    assert info["context_tokens"] == 4096                     # the embedded model's n_ctx
    assert 0 < info["max_question_tokens"] < info["context_tokens"]


@pytest.mark.parametrize("stream", [False, True])
def test_a_question_longer_than_the_context_is_a_400_with_the_limits(live, key, stream):
    question = " ".join(str(i) for i in range(1700))          # ~8,000 characters, ~3,400+ tokens
    thread = f"t-too-long-{stream}"
    response = post(live, key, question, thread, stream=stream)
    assert response.status_code == 400, response.text[:300]
    error = response.json()["error"]
    assert error["code"] == "context_length_exceeded" and error["type"] == "invalid_request_error"
    info = httpx.get(f"{live['main']}/api/info", headers=key).json()
    assert "4096" in error["message"] and str(info["max_question_tokens"]) in error["message"]
    assert no_thread(live, key, thread)                      # refused before any thread was written


def test_a_question_at_the_limit_is_answered_on_the_longest_route(live, key):
    """Just under the limit, the mixed route (question + retrieved facts + answer) still fits."""
    limit = httpx.get(f"{live['main']}/api/info", headers=key).json()["max_question_tokens"]
    words = "Leonardo da Vinci painted the Mona Lisa in Florence and Paris".split()
    question = " ".join(words[i % len(words)] for i in range(int(limit * 0.9))) + " What is 2 + 2?"
    response = post(live, key, question, "t-at-the-limit", route="mixed")
    assert response.status_code in (200, 400), response.text[:300]
    if response.status_code == 400:       # the word count overshot the limit: still not a 5xx
        assert response.json()["error"]["code"] == "context_length_exceeded"
    else:
        assert response.json()["corecover"]["route"] == "mixed"


SURROGATES = {   # raw JSON: the escapes are valid JSON, the text they make is not valid Unicode
    "content": r'{"model": "corecover", "messages": [{"role": "user", "content": "What is \ud800 2 + 2?"}]}',
    "part": r'{"model": "corecover", "messages": [{"role": "user", "content": [{"type": "text", "text": "Why \udfff?"}]}]}',
    "user": r'{"model": "corecover", "user": "x\ud800", "messages": [{"role": "user", "content": "What is 2 + 2?"}]}',
}


@pytest.mark.parametrize("where", sorted(SURROGATES))
def test_lone_surrogates_are_a_clear_400_before_any_thread(live, key, where):
    thread = f"t-surrogate-{where}"
    response = post(live, key, SURROGATES[where].encode(), thread)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert "surrogate" in error["message"] and error["code"] == "invalid_value"
    assert no_thread(live, key, thread)


def test_dead_backend_stream_is_a_502_not_a_200_stream(live):
    body = {"model": "corecover", "stream": True, "route": "reason",
            "messages": [{"role": "user", "content": "What is 6 * 7?"}]}
    response = httpx.post(f"{live['dead']}/v1/chat/completions", json=body, timeout=60)
    assert response.status_code == 502 and response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["code"] == "backend_error"
