"""The transformers backend on the embedded GGUF (dequantised), checked against llama.cpp.

Both read the same GGUF, so they build the same chat prompt tokens. transformers runs the
dequantised float weights and llama.cpp the Q4_1 ones, so log-probs differ in the decimals:
the tests compare the top token, not the numbers.
"""

from __future__ import annotations

import pytest

from reasoner import ChatBackend

PROMPTS = ["What is 2+3?", "Name a colour.", "Write a haiku about rain."]
NEAR_TIE = 0.1  # nats


def test_is_a_chat_backend_loaded_once(hf_backend) -> None:
    from reasoner import load_backend

    assert isinstance(hf_backend, ChatBackend) and hf_backend.name == "transformers"
    assert load_backend("transformers:embedded").lm is hf_backend.lm, "cached per path in-process"


@pytest.mark.parametrize("question", PROMPTS)
def test_same_chat_prompt_tokens_as_llamacpp(hf_backend, embedded_backend, question: str) -> None:
    assert hf_backend.prompt_ids(question) == embedded_backend.prompt_tokens(question)


@pytest.mark.parametrize("question", PROMPTS)
def test_logprobs_pick_llamacpp_greedy_first_token(hf_backend, embedded_backend, question: str) -> None:
    """llama.cpp's greedy first token is transformers' top token, up to quantisation noise.

    Measured: for "Name a colour." transformers ranks "The" (-1.298) just above "A" (-1.342)
    while Q4_1 llama.cpp picks "A"; so a token within ``NEAR_TIE`` nats of the top counts as
    the top token, and wherever the top token leads by more than that they must be the same.
    """
    [greedy] = embedded_backend.generate(question, temperature=0, max_tokens=6)
    scored = hf_backend.logprobs(question, greedy.text)
    logprobs = hf_backend.first_token_logits(question).log_softmax(-1)
    (top_lp, second_lp), (top, _) = logprobs.topk(2)
    first_id, first_text, first_lp = scored[0]
    assert first_lp == pytest.approx(float(logprobs[first_id]), abs=1e-4)
    assert first_lp >= float(top_lp) - NEAR_TIE, (
        f"llama.cpp starts with {first_text!r} ({first_lp:.3f}); transformers prefers "
        f"{hf_backend.tokenizer.decode([int(top)])!r} ({float(top_lp):.3f})")
    if float(top_lp - second_lp) > NEAR_TIE:
        assert first_id == int(top) and hf_backend.greedy_next_token(question) == (first_id, first_text)
    assert all(lp <= 0 for _, _, lp in scored) and "".join(t for _, t, _ in scored) == greedy.text


def test_generate_stream_and_n(hf_backend) -> None:
    chunks = list(hf_backend.stream(PROMPTS[0], temperature=0, max_tokens=10))
    final = chunks[-1].completion
    assert "".join(c.delta for c in chunks) == final.text and final.completion_tokens > 0
    assert [c.text for c in hf_backend.generate(PROMPTS[0], temperature=0, max_tokens=10, n=2)] == [final.text] * 2
    samples = hf_backend.generate("Name a colour.", n=2, temperature=1.0, max_tokens=3, seed=3)
    assert len(samples) == 2 and all(s.completion_tokens > 0 for s in samples)
    assert [s.text for s in samples] == [s.text for s in hf_backend.generate(
        "Name a colour.", n=2, temperature=1.0, max_tokens=3, seed=3)]


def test_length_and_stop(hf_backend) -> None:
    c = hf_backend.generate("Write a long story about a dragon.", temperature=0, max_tokens=3)[0]
    assert (c.finish_reason, c.truncated, c.completion_tokens) == ("length", True, 3)
    story = "Write a long story about a dragon."
    full = hf_backend.generate(story, temperature=0, max_tokens=16)[0].text
    words = full.split()
    assert len(words) >= 4, full
    stop = words[len(words) // 2]  # a string the model really writes, whatever the CPU
    stopped = hf_backend.generate(story, temperature=0, max_tokens=16, stop=[stop])[0]
    assert stopped.text == full[:full.index(stop)] and stopped.finish_reason == "stop"


def test_a_stream_left_early_stops_generating(hf_backend) -> None:
    """Budget forcing and the loop guard break out of the stream: the model must be free soon after."""
    messages = [{"role": "user", "content": "Count from 1 to 1000, one number per line."},
                {"role": "assistant", "content": "1\n2\n3\n4\n5\n6\n"}]
    stream = hf_backend.stream(messages, temperature=0, max_tokens=600)
    next(stream)
    stream.close()
    assert hf_backend._lock.acquire(timeout=5), "the worker kept generating after the caller left"
    hf_backend._lock.release()


def test_a_stream_timeout_is_a_backend_error(hf_backend) -> None:
    from reasoner.base import BackendError

    with pytest.raises(BackendError, match="no token within"):
        list(hf_backend.stream("Write a long story about a dragon.", temperature=0, max_tokens=50, timeout=0.001))
    assert hf_backend._lock.acquire(timeout=10)
    hf_backend._lock.release()
