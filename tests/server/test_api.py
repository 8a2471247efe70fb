"""The OpenAI-compatible API through the ``openai`` SDK and raw HTTP, against the live servers."""

from __future__ import annotations

import asyncio
import json

import httpx
import openai
import pytest

pytestmark = pytest.mark.slow


def corecover_of(obj) -> dict:
    """The ``corecover`` extension object of an SDK response or chunk ({} when absent)."""
    return (obj.model_extra or {}).get("corecover") or {}


def error_of(response: httpx.Response) -> dict:
    """The OpenAI-shaped error of a raw response."""
    body = response.json()
    assert set(body) == {"error"} and {"message", "type", "param", "code"} <= set(body["error"])
    return body["error"]


@pytest.fixture(scope="module")
def key_header(live) -> dict:
    return {"Authorization": f"Bearer {live.key}"}


def test_models_lists_the_agent(client):
    models = client.models.list()
    assert [m.id for m in models.data] == ["corecover"]
    assert client.models.retrieve("corecover").id == "corecover"


def test_math_question_goes_to_the_reasoner(client):
    response = client.chat.completions.create(
        model="corecover", messages=[{"role": "user", "content": "What is 7 + 5?"}])
    message = response.choices[0].message
    assert message.role == "assistant" and message.content.strip()
    extra = corecover_of(response)
    assert extra["route"] == "reason" and extra["citations"] == []
    assert extra["usage"]["reason"]["completion_tokens"] > 0
    assert response.usage.completion_tokens == extra["usage"]["total"]["completion_tokens"]
    assert extra["thread_id"]


def test_streamed_knowledge_answer_carries_route_and_citations(client):
    stream = client.chat.completions.create(
        model="corecover", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "Who painted the Mona Lisa?"}])
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finals) == 1 and finals[0].choices[0].finish_reason == "stop"
    extra = corecover_of(finals[0])
    assert extra["route"] == "knowledge"
    assert text.strip() == extra["answer"].strip()
    assert extra["citations"] and all({"n", "title", "text"} <= set(c) for c in extra["citations"])
    steps = [corecover_of(c).get("node") for c in chunks if corecover_of(c).get("event") == "step"]
    assert steps[:2] == ["condense", "route"] and "retrieve" in steps
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens >= 0


def test_raw_stream_is_openai_sse_ending_with_done(live, key_header):
    body = {"model": "corecover", "stream": True, "messages": [{"role": "user", "content": "What is 2 + 2?"}]}
    with httpx.stream("POST", f"{live['main']}/v1/chat/completions", json=body, headers=key_header,
                      timeout=120) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-thread-id"]
        data = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    first = json.loads(data[0])
    assert first["object"] == "chat.completion.chunk" and first["choices"][0]["delta"]["role"] == "assistant"
    assert first["corecover"]["thread_id"] == response.headers["x-thread-id"]


def test_threads_follow_header_and_resent_history(client, live, key_header):
    first = client.chat.completions.create(
        model="corecover", messages=[{"role": "user", "content": "What is 3 + 4?"}])
    thread = corecover_of(first)["thread_id"]
    # an OpenAI client resending the whole conversation continues the same thread
    history = [{"role": "system", "content": "be brief"},
               {"role": "user", "content": "What is 3 + 4?"},
               {"role": "assistant", "content": first.choices[0].message.content},
               {"role": "user", "content": "And what is 3 + 5?"}]
    second = client.chat.completions.create(model="corecover", messages=history)
    assert corecover_of(second)["thread_id"] == thread
    # an explicit X-Thread-Id wins
    third = client.chat.completions.create(
        model="corecover", messages=[{"role": "user", "content": "What is 3 + 6?"}],
        extra_headers={"X-Thread-Id": thread})
    assert corecover_of(third)["thread_id"] == thread
    # a fresh single-message conversation starts a new thread
    other = client.chat.completions.create(
        model="corecover", messages=[{"role": "user", "content": "What is 3 + 4?"}])
    assert corecover_of(other)["thread_id"] != thread

    turns = httpx.get(f"{live['main']}/api/threads/{thread}", headers=key_header).json()["messages"]
    assert [t["role"] for t in turns] == ["user", "assistant"] * 3
    assert turns[4]["content"] == "What is 3 + 6?"
    listed = httpx.get(f"{live['main']}/api/threads", headers=key_header).json()["data"]
    assert thread in {t["thread_id"] for t in listed}
    missing = httpx.get(f"{live['main']}/api/threads/t-nothing-here", headers=key_header)
    assert missing.status_code == 404 and error_of(missing)["code"] == "thread_not_found"


def test_unknown_model_is_an_openai_404(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.body["code"] == "model_not_found" and caught.value.body["param"] == "model"


def test_wrong_or_missing_api_key_is_401(live):
    from openai import OpenAI

    wrong = OpenAI(base_url=f"{live['main']}/v1", api_key="not-the-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        wrong.models.list()
    assert caught.value.body["code"] == "invalid_api_key"
    bare = httpx.get(f"{live['main']}/api/threads")
    assert bare.status_code == 401 and error_of(bare)["type"] == "invalid_request_error"
    # the page and the health check stay open
    assert httpx.get(f"{live['main']}/healthz").json()["status"] == "ok"
    assert "<title>corecover</title>" in httpx.get(f"{live['main']}/").text


@pytest.mark.parametrize(("payload", "param"), [
    ('{"model": "corecover", "messages": [', None),                               # bad JSON
    ('{"model": "corecover", "messages": "hello"}', "messages"),                   # wrong type
    ('{"model": 7, "messages": [{"role": "user", "content": "hi"}]}', "model"),
    ('{"model": "corecover", "messages": [{"role": "robot", "content": "hi"}]}', "messages.0.role"),
    ('{"model": "corecover", "messages": []}', "messages"),
    ('{"model": "corecover", "messages": [{"role": "user", "content": "hi"}], "n": 3}', "n"),
    ('{"model": "corecover", "messages": [{"role": "assistant", "content": "hi"}]}', "messages"),
    ('[1, 2]', None),
])
def test_bad_requests_are_openai_400s(live, key_header, payload, param):
    response = httpx.post(f"{live['main']}/v1/chat/completions", content=payload,
                          headers={**key_header, "Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["type"] == "invalid_request_error" and error["message"]
    if param:
        assert error["param"] == param


def test_huge_bodies_are_413_declared_or_streamed(live):
    big = json.dumps({"model": "corecover", "messages": [{"role": "user", "content": "x" * 10_000}]})
    declared = httpx.post(f"{live['tight']}/v1/chat/completions", content=big,
                          headers={"Content-Type": "application/json"})
    assert declared.status_code == 413 and error_of(declared)["code"] == "request_too_large"

    def chunks():  # no Content-Length: the limit must hold while reading
        for i in range(0, len(big), 1000):
            yield big[i:i + 1000].encode()

    streamed = httpx.post(f"{live['tight']}/v1/chat/completions", content=chunks(),
                          headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413 and error_of(streamed)["code"] == "request_too_large"


async def test_over_the_concurrency_limit_is_429_not_5xx(live):
    body = {"model": "corecover", "messages": [{"role": "user", "content": "What is 12 * 11?"}]}
    async with httpx.AsyncClient(base_url=live["tight"], timeout=120) as http:
        responses = await asyncio.gather(*(http.post("/v1/chat/completions", json=body) for _ in range(6)))
    statuses = sorted(r.status_code for r in responses)
    assert 200 in statuses and 429 in statuses, statuses
    assert set(statuses) <= {200, 429}
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.headers["retry-after"] and error_of(refused)["type"] == "rate_limit_error"
    health = httpx.get(f"{live['tight']}/healthz").json()
    assert health["in_flight"] == 0  # every slot was given back


def test_timeout_is_504(live):
    body = {"model": "corecover", "messages": [{"role": "user", "content": "What is 9 * 9?"}]}
    response = httpx.post(f"{live['slow']}/v1/chat/completions", json=body, timeout=60)
    assert response.status_code == 504 and error_of(response)["code"] == "request_timeout"
    # streamed: a 504 when the deadline passes before the first token, else an error event
    streamed = httpx.post(f"{live['slow']}/v1/chat/completions", json={**body, "stream": True}, timeout=60)
    if streamed.status_code == 504:
        assert error_of(streamed)["code"] == "request_timeout"
    else:
        data = [line[6:] for line in streamed.text.splitlines() if line.startswith("data: ")]
        assert streamed.status_code == 200 and data[-1] == "[DONE]"
        assert json.loads(data[-2])["error"]["code"] == "request_timeout"
    assert httpx.get(f"{live['slow']}/healthz").json()["in_flight"] == 0


def test_dead_backend_is_a_502(live):
    from openai import OpenAI

    sdk = OpenAI(base_url=f"{live['dead']}/v1", api_key="unused", max_retries=0, timeout=60)
    question = [{"role": "user", "content": "What is 6 * 7?"}]
    with pytest.raises(openai.APIStatusError) as caught:
        sdk.chat.completions.create(model="corecover", messages=question, extra_body={"route": "reason"})
    assert caught.value.status_code == 502 and caught.value.body["code"] == "backend_error"
    # streaming: the failure comes before the first token, so it is an HTTP 502 too, not a 200 stream
    with pytest.raises(openai.APIStatusError) as streamed:
        list(sdk.chat.completions.create(model="corecover", messages=question, stream=True,
                                         extra_body={"route": "reason"}))
    assert streamed.value.status_code == 502 and "backend" in str(streamed.value)
