"""The rubric judge and teacher sampling against a live OpenAI-compatible server (llama_cpp.server)."""

from __future__ import annotations

import json

import pytest

from training.judge import RubricJudge, parse_score


def test_parse_score():
    assert parse_score("Score: 7") == pytest.approx(0.7)
    assert parse_score("I think... score = 12") == 1.0
    assert parse_score("Score: 3\nScore: 9") == pytest.approx(0.9)
    assert parse_score("no number here") is None


@pytest.mark.slow
def test_judge_and_teacher_sampling_on_live_server(llama_server):
    from reasoner.serve import served_models
    from training.sampling import sample

    model = served_models(llama_server)[0]
    judge = RubricJudge(base_url=llama_server, model=model, max_tokens=12)
    prompts = [[{"role": "user", "content": "Write a haiku about rain."}],
               [{"role": "user", "content": "What is 2 plus 2?"}]]
    completions = [[{"role": "assistant", "content": "Rain taps the window / ..."}],
                   [{"role": "assistant", "content": "\\boxed{4}"}]]
    specs = [json.dumps({"kind": "rubric", "rubric": "A haiku: three lines, 5-7-5 syllables."}),
             json.dumps({"kind": "math", "answer": "4"})]
    scores = judge(prompts=prompts, completions=completions, reward=specs)
    assert scores[1] is None  # not a rubric record: the verifier scores it
    assert scores[0] is None or 0.0 <= scores[0] <= 1.0

    texts = sample(f"openai:{llama_server}?model={model}", prompts[1:], n=2)
    assert len(texts) == 1 and len(texts[0]) == 2 and all(isinstance(t, str) for t in texts[0])
