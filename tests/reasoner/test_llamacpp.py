"""The in-process llama.cpp backend on the embedded SmolLM2-135M GGUF."""

from __future__ import annotations

import time

from reasoner import ChatBackend, Completion

QUESTION = "What is 2+3?"
COUNT = "Count from 1 to 10, separated by commas."


def test_is_a_chat_backend(embedded_backend) -> None:
    assert isinstance(embedded_backend, ChatBackend)
    assert embedded_backend.name == "llamacpp" and "SmolLM2" in embedded_backend.model


def test_answers_a_chat_greedily_and_reproducibly(embedded_backend) -> None:
    first, again = (embedded_backend.generate(QUESTION, temperature=0, max_tokens=24)[0] for _ in range(2))
    assert "5" in first.text
    assert first.text == again.text
    assert first.finish_reason == "stop" and not first.truncated
    assert first.prompt_tokens > 10 and 0 < first.completion_tokens <= 24
    assert first.latency_s > 0 and first.backend == "llamacpp"


def test_message_lists_and_system_prompts(embedded_backend) -> None:
    messages = [{"role": "system", "content": "Reply in French."}, {"role": "user", "content": "Hello!"}]
    assert embedded_backend.prompt_tokens(messages) != embedded_backend.prompt_tokens("Hello!")
    assert embedded_backend.generate(messages, temperature=0, max_tokens=8)[0].text


def test_stream_joins_to_the_final_completion(embedded_backend) -> None:
    chunks = list(embedded_backend.stream(QUESTION, temperature=0, max_tokens=24))
    final = chunks[-1].completion
    assert isinstance(final, Completion) and len(chunks) > 2
    assert "".join(c.delta for c in chunks) == final.text
    assert final.text == embedded_backend.generate(QUESTION, temperature=0, max_tokens=24)[0].text


async def test_astream_and_agenerate(embedded_backend) -> None:
    chunks = [c async for c in embedded_backend.astream(QUESTION, temperature=0, max_tokens=24)]
    [completion] = await embedded_backend.agenerate(QUESTION, temperature=0, max_tokens=24)
    assert "".join(c.delta for c in chunks) == chunks[-1].completion.text == completion.text


def test_n_samples(embedded_backend) -> None:
    samples = embedded_backend.generate("Name a colour.", n=2, temperature=1.0, max_tokens=8)
    assert len(samples) == 2 and all(s.completion_tokens > 0 for s in samples)


def test_seed_reproduces_sampling_at_positive_temperature(embedded_backend) -> None:
    def sample(seed: int) -> list[str]:
        out = embedded_backend.generate("Write a one-line poem about the sea.", n=2, temperature=1.0,
                                        top_p=1.0, top_k=-1, max_tokens=12, seed=seed)
        return [c.text for c in out]

    assert sample(7) == sample(7)
    assert sample(7) != sample(8)


def test_stop_string_cuts_the_greedy_answer(embedded_backend) -> None:
    full = embedded_backend.generate(COUNT, temperature=0, max_tokens=40)[0].text
    assert "5" in full
    stopped = embedded_backend.generate(COUNT, temperature=0, max_tokens=40, stop="5")[0]
    assert stopped.text == full[:full.index("5")]
    assert stopped.finish_reason == "stop"


def test_max_tokens_truncates(embedded_backend) -> None:
    c = embedded_backend.generate("Write a long story about a dragon.", temperature=0, max_tokens=5)[0]
    assert (c.finish_reason, c.truncated, c.completion_tokens) == ("length", True, 5)


def test_timeout_stops_generation(embedded_backend) -> None:
    start = time.perf_counter()
    c = embedded_backend.generate("Write a long story about a dragon.", temperature=0, max_tokens=400,
                                  timeout=0.3)[0]
    assert c.finish_reason == "timeout" and c.truncated
    assert time.perf_counter() - start < 5
