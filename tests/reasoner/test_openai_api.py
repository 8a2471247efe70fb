"""The OpenAI-compatible backend against a live llama_cpp.server and a scripted HTTP server."""

from __future__ import annotations

import time

import pytest

from reasoner import BackendError, ChatBackend, load_backend
from reasoner.openai_api import OpenAIBackend
from reasoner.serve import free_port, served_models

QUESTION = "What is 2+3?"


@pytest.fixture
def backend(llama_server) -> OpenAIBackend:
    """A fresh backend (the n cap it learns is per instance)."""
    return OpenAIBackend(llama_server, timeout=60)


def test_model_comes_from_the_server(backend, llama_server) -> None:
    assert isinstance(backend, ChatBackend)
    assert backend.model == served_models(llama_server)[0] == "SmolLM2-135M-Instruct.Q4_1"
    assert backend.defaults.temperature == 0.2, "SmolLM2's preset"


def test_generate_matches_the_in_process_model(backend, embedded_backend) -> None:
    """Same GGUF, same chat template, same system prompt, greedy, no KV prefix reused on either
    side (the server resets per request): the same answer, whatever each answered before."""
    [remote] = backend.generate(QUESTION, temperature=0, max_tokens=24)
    [local] = embedded_backend.generate(QUESTION, temperature=0, max_tokens=24)
    assert remote.text == local.text and remote.text
    assert (remote.backend, remote.finish_reason) == ("openai", "stop")
    assert remote.prompt_tokens == local.prompt_tokens
    assert remote.completion_tokens > 0 and remote.latency_s > 0


def test_spec_string_and_length_finish(llama_server) -> None:
    b = load_backend(f"openai:{llama_server}?timeout=30&max_retries=1")
    [c] = b.generate("Write a long story about a dragon.", temperature=0, max_tokens=4)
    assert (c.finish_reason, c.truncated, c.completion_tokens) == ("length", True, 4)


def test_stream(backend) -> None:
    chunks = list(backend.stream(QUESTION, temperature=0, max_tokens=24))
    final = chunks[-1].completion
    assert len(chunks) > 2 and "".join(c.delta for c in chunks) == final.text
    assert final.text == backend.generate(QUESTION, temperature=0, max_tokens=24)[0].text


async def test_astream(backend) -> None:
    chunks = [c async for c in backend.astream(QUESTION, temperature=0, max_tokens=24)]
    assert "".join(c.delta for c in chunks) == chunks[-1].completion.text
    assert chunks[-1].completion.text


def test_n_is_topped_up_when_the_server_returns_fewer_choices(backend) -> None:
    samples = backend.generate("Name a colour.", n=3, temperature=1.0, max_tokens=6, seed=11)
    assert len(samples) == 3 and all(s.text for s in samples)
    assert backend.max_n_per_request == 1, "llama_cpp.server answers n=3 with one choice (measured)"
    backend.generate("Write a haiku about rain.", temperature=0.7, max_tokens=8)  # other work in between
    assert [s.text for s in backend.generate("Name a colour.", n=3, temperature=1.0, max_tokens=6,
                                             seed=11)] == [s.text for s in samples], "seeds i, i+1, i+2"


async def test_agenerate_tops_up_concurrently(backend) -> None:
    samples = await backend.agenerate("Name a colour.", n=3, temperature=1.0, max_tokens=6)
    assert len(samples) == 3 and all(s.backend == "openai" for s in samples)


def test_disabled_top_k_of_the_eval_presets_is_accepted(backend) -> None:
    # the VibeThinker and SmolLM2 eval presets say top_k=-1; llama_cpp.server rejects -1 with a 500
    [completion] = backend.generate("Say hi.", top_k=-1, max_tokens=4, temperature=1.0)
    assert completion.completion_tokens > 0


def test_stop_strings(backend) -> None:
    story = "Write a long story about a dragon."
    full = backend.generate(story, temperature=0, max_tokens=40)[0].text
    words = full.split()
    assert len(words) >= 4, full
    stop = words[len(words) // 2]  # a string the model really writes, whatever the CPU
    assert backend.generate(story, temperature=0, max_tokens=40, stop=[stop])[0].text == full[:full.index(stop)]


def test_dead_port_fails_fast_and_says_how_to_start_a_server() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    start = time.perf_counter()
    with pytest.raises(BackendError, match=r"cannot reach .*`corecover reasoner serve`") as info:
        OpenAIBackend(url, model="m", timeout=5, max_retries=1).generate(QUESTION)
    assert url in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(BackendError, match="cannot reach"):
        OpenAIBackend(url, timeout=5, max_retries=0)  # listing the models fails too
    assert time.perf_counter() - start < 15


def test_server_error_500(scripted_server) -> None:
    b = OpenAIBackend(f"{scripted_server}/500/v1", model="m", max_retries=1)
    with pytest.raises(BackendError, match="answered HTTP 500: model crashed"):
        b.generate(QUESTION)


def test_malformed_json(scripted_server) -> None:
    b = OpenAIBackend(f"{scripted_server}/malformed/v1", model="m", max_retries=0)
    with pytest.raises(BackendError, match=r"malformed JSON.*OpenAI-compatible server"):
        b.generate(QUESTION)


def test_unauthorized_names_the_api_key(scripted_server) -> None:
    b = OpenAIBackend(f"{scripted_server}/401/v1", model="m", api_key="wrong", max_retries=0)
    with pytest.raises(BackendError, match=r"api key.*OPENAI_API_KEY"):
        b.generate(QUESTION)


def test_a_silent_server_times_out(scripted_server) -> None:
    b = OpenAIBackend(f"{scripted_server}/slow/v1", model="m", max_retries=0)
    start = time.perf_counter()
    with pytest.raises(BackendError, match=r"no answer .* within 0\.5 s"):
        b.generate(QUESTION, timeout=0.5)
    assert time.perf_counter() - start < 4


def test_reasoning_returned_apart(scripted_server) -> None:
    """vLLM's reasoning parser puts the thinking in ``reasoning_content``."""
    b = OpenAIBackend(f"{scripted_server}/reasoning/v1")
    assert b.model == "scripted"
    [c] = b.generate(QUESTION)
    assert (c.reasoning, c.final_answer) == ("Two plus two makes four.", "4")
    assert (c.prompt_tokens, c.completion_tokens) == (11, 7)


def test_streamed_reasoning_is_wrapped_in_think_tags(scripted_server) -> None:
    b = OpenAIBackend(f"{scripted_server}/reasoning/v1", model="scripted")
    chunks = list(b.stream(QUESTION))
    final = chunks[-1].completion
    joined = "".join(c.delta for c in chunks)
    assert joined.startswith("<think>Two plus") and "</think>\nThe answer" in joined
    assert (final.text, final.reasoning, final.final_answer) == (
        "The answer is \\boxed{4}.", "Two plus two makes four.", "4")
