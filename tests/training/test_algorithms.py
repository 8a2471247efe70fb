"""The math of the training algorithms: MGPO weights, Long2Short shifts, learning-potential
selection, merging, records and filters."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from training.config import DataConfig, MGPOStageConfig, SFTStageConfig, from_dict
from training.filters import RepetitionFilter, decontaminate
from training.merge import average_state_dicts, normalized
from training.mgpo import drop_solved_and_unsolved, success_per_sample
from training.mgpo_math import (
    bernoulli_kl_to_half,
    group_accuracy,
    long2short_rewards,
    long2short_shift,
    mgpo_weights,
)
from training.potential import bucket_of, select_by_potential
from training.records import Record
from training.tasks import arithmetic_records


# -- MGPO ---------------------------------------------------------------------------------
def test_kl_to_half_closed_form():
    p = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0])
    expected = [math.log(2), 0.25 * math.log(0.5) + 0.75 * math.log(1.5), 0.0,
                0.75 * math.log(1.5) + 0.25 * math.log(0.5), math.log(2)]
    assert torch.allclose(bernoulli_kl_to_half(p), torch.tensor(expected), atol=1e-6)


def test_mgpo_weights_peak_at_half_and_symmetric():
    p = torch.tensor([0.125, 0.25, 0.5, 0.75, 0.875])
    w = mgpo_weights(p, lam=2.0)
    assert w[2] == pytest.approx(1.0)
    assert w[0] == pytest.approx(w[4].item()) and w[1] == pytest.approx(w[3].item())
    assert w[0] < w[1] < w[2]
    assert mgpo_weights(torch.tensor([0.0]), lam=1.0).item() == pytest.approx(0.5)  # exp(-log 2)


def test_mgpo_weights_lambda_zero_is_exactly_one():
    assert torch.equal(mgpo_weights(torch.rand(64), lam=0.0), torch.ones(64))


@given(st.lists(st.floats(0, 1), min_size=1, max_size=16), st.floats(0, 5))
def test_mgpo_weights_in_range(ps, lam):
    w = mgpo_weights(torch.tensor(ps), lam)
    assert torch.all(w <= 1.0 + 1e-6) and torch.all(w >= math.exp(-lam * math.log(2)) - 1e-6)


def test_group_accuracy_and_success():
    correct = torch.tensor([1, 0, 1, 1, 0, 0, 0, 0])
    assert group_accuracy(correct, 4).tolist() == [0.75, 0.0]
    with pytest.raises(ValueError, match="groups of 3"):
        group_accuracy(correct, 3)
    rewards = torch.tensor([[1.0, float("nan")], [float("nan"), 0.4], [float("nan"), float("nan")]])
    assert success_per_sample(rewards).tolist() == pytest.approx([1.0, 0.4, 0.0])


def test_filter_drops_always_and_never_solved():
    records = arithmetic_records(3)
    kept = drop_solved_and_unsolved(records, [0.0, 0.5, 1.0])
    assert [r.id for r in kept] == [records[1].id]


# -- Long2Short ---------------------------------------------------------------------------
def test_long2short_example():
    correct = torch.tensor([1, 1, 1, 0])
    lengths = torch.tensor([10, 20, 40, 5])
    shift = long2short_shift(correct, lengths, lam=0.2)
    s = torch.tensor([0.1, 0.05, 0.025], dtype=torch.float64)
    expected = 0.2 * (s - s.mean()) / (s - s.mean()).abs().max()
    assert torch.allclose(shift[:3], expected) and shift[3] == 0
    assert shift[0] == pytest.approx(0.2)  # the shortest gets the full λ


def test_long2short_no_change_when_lengths_equal_or_single():
    assert torch.all(long2short_shift(torch.tensor([1, 1, 0]), torch.tensor([7, 7, 3])) == 0)
    assert torch.all(long2short_shift(torch.tensor([1, 0, 0]), torch.tensor([7, 9, 3])) == 0)


def test_long2short_rewards_groups_independent():
    rewards = torch.tensor([1.0, 1.0, 0.0, 0.0, 1.0, 1.0])
    correct = rewards.bool()
    lengths = torch.tensor([5, 10, 3, 3, 8, 8])
    out = long2short_rewards(rewards, correct, lengths, group_size=3)
    assert out[0] > 1 > out[1] and out[2] == 0
    assert out[3:].tolist() == [0.0, 1.0, 1.0]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 5000)), min_size=1, max_size=16),
       st.floats(0.01, 1.0))
def test_long2short_properties(samples, lam):
    correct = torch.tensor([c for c, _ in samples])
    lengths = torch.tensor([n for _, n in samples])
    shift = long2short_shift(correct, lengths, lam)
    assert abs(shift.sum().item()) < 1e-9  # shifts sum to zero
    assert torch.all(shift[~correct] == 0)  # incorrect rewards unchanged
    assert shift.abs().max() <= lam + 1e-12
    idx = correct.nonzero().flatten().tolist()
    for i in idx:
        for j in idx:
            if lengths[i] < lengths[j]:
                assert shift[i] >= shift[j]  # shorter correct answers never get less


# -- learning potential ---------------------------------------------------------------------
def _trace(i: int, domain: str = "math") -> Record:
    return Record(messages=[{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}],
                  reward={"kind": "math", "answer": "1"}, domain=domain, id=f"{domain}-{i}")


def test_bucket_of():
    assert [bucket_of(n, [10, 100]) for n in (0, 9, 10, 99, 100, 10_000)] == [0, 0, 1, 1, 2, 2]


def test_selection_keeps_middle_to_high_band_per_bucket():
    records = [_trace(i) for i in range(100)]
    scores = [float(i) for i in range(100)]
    lengths = [50] * 100
    chosen = select_by_potential(records, scores, lengths, bucket_edges=[10], min_tokens=1,
                                 outlier_quantile=0.95, score_range=(0.5, 1.0))
    kept = sorted(r.meta["potential"] for r in chosen)
    assert min(kept) >= 47 and max(kept) <= 94.05  # outliers (top 5 %) and the low half gone
    assert 45 <= len(kept) <= 49
    assert [r.meta["potential"] for r in chosen] == sorted(kept, reverse=True)


def test_selection_buckets_domains_and_short_traces():
    records = [_trace(i, "math") for i in range(10)] + [_trace(i, "code") for i in range(10)]
    scores = [1.0] * 20
    lengths = [3] * 5 + [500] * 5 + [50] * 10
    chosen = select_by_potential(records, scores, lengths, bucket_edges=[100], min_tokens=4,
                                 outlier_quantile=1.0, score_range=(0.0, 1.0), per_bucket=3)
    keys = [(r.domain, r.meta["bucket"]) for r in chosen]
    assert keys.count(("math", 1)) == 3 and keys.count(("code", 0)) == 3 and len(keys) == 6
    assert all(r.id not in {f"math-{i}" for i in range(5)} for r in chosen)  # too short
    with pytest.raises(ValueError, match="score_range"):
        select_by_potential(records, scores, lengths, [100], score_range=(0.9, 0.1))


# -- merge ----------------------------------------------------------------------------------
def test_average_state_dicts_weighted():
    a = {"w": torch.tensor([1.0, 2.0]), "step": torch.tensor(3)}
    b = {"w": torch.tensor([3.0, 6.0]), "step": torch.tensor(9)}
    merged = average_state_dicts([a, b], [3, 1])
    assert torch.allclose(merged["w"], torch.tensor([1.5, 3.0]))
    assert merged["step"].item() == 3  # non-float tensors come from the first
    assert torch.allclose(average_state_dicts([a, b])["w"], torch.tensor([2.0, 4.0]))
    with pytest.raises(ValueError, match="one weight per checkpoint"):
        normalized([1.0], 2)
    with pytest.raises(ValueError, match="different parameters"):
        average_state_dicts([a, {"v": torch.zeros(2), "step": torch.tensor(1)}])


# -- records, filters, configs --------------------------------------------------------------
def test_record_validation_and_prompt():
    record = arithmetic_records(1)[0]
    assert record.prompt == record.messages[:1] and "\\boxed" in record.response
    with pytest.raises(ValueError, match="needs tests"):
        Record(messages=[{"role": "user", "content": "x"}], reward={"kind": "code"})
    with pytest.raises(ValueError, match="unknown"):
        Record(messages=[{"role": "user", "content": "x"}], reward={"kind": "vibes"})


def test_repetition_filter():
    loop = "so the answer is " * 30
    fine = "We add the ones digits first, carry the one, then add the tens digits to get 58."
    assert RepetitionFilter().is_degenerate(loop)
    assert not RepetitionFilter().is_degenerate(fine)


def test_decontaminate_uses_eval_ngrams():
    bench = ["Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May."]
    leaked = Record(messages=[{"role": "user", "content": "Q: " + bench[0].upper()}],
                    reward={"kind": "math", "answer": "72"})
    kept, dropped = decontaminate([*arithmetic_records(2), leaked], bench, n=13)
    assert dropped == 1 and leaked not in kept and len(kept) == 2


def test_config_from_dict_nested_and_unknown_keys():
    config = from_dict(SFTStageConfig, {"data": {"paths": "a.jsonl"}, "curriculum": {"min_tokens": 10},
                                        "specialists": {"probes": {"math": "p.jsonl"}}})
    assert isinstance(config.data, DataConfig) and config.data.paths == ["a.jsonl"]
    assert config.curriculum.min_tokens == 10 and config.curriculum.rollouts == 8
    assert config.specialists.probes == {"math": "p.jsonl"}
    with pytest.raises(ValueError, match="unknown key"):
        from_dict(MGPOStageConfig, {"mgpo_lamda": 1.0})


# -- verl plugin (verl-free parts) ------------------------------------------------------------
def test_verl_group_shaping_matches_trainer_math():
    from training.verl_plugin import compute_score, group_shaping

    scores = torch.tensor([1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0])
    lengths = torch.tensor([10, 20, 5, 5, 9, 9, 9, 9])
    index = ["a", "a", "a", "a", "b", "b", "b", "b"]
    shift, weight = group_shaping(scores, lengths, index, mgpo_lambda=1.0, long2short_lambda=0.2)
    assert shift[0] == pytest.approx(0.2) and shift[1] == pytest.approx(-0.2) and torch.all(shift[2:] == 0)
    assert weight[0] == pytest.approx(1.0)  # group a: accuracy 0.5
    assert weight[4] == pytest.approx(mgpo_weights(torch.tensor([0.25]), 1.0).item())
    assert compute_score("math", "so \\boxed{12}", "12") == 1.0
    assert compute_score("gpqa_option", "Answer: C", "B") == 0.0


def test_example_configs_load():
    from pathlib import Path

    from training.config import STAGES, PipelineConfig, load_config

    folder = Path(__file__).resolve().parents[2] / "training" / "configs"
    kinds = {"sft": "sft", "merge": "merge", "mgpo": "mgpo", "long2short": "mgpo", "distill": "distill",
             "instruct_rl": "instruct-rl"}
    for path in folder.glob("*.yaml"):
        if path.stem in kinds:
            load_config(path, STAGES[kinds[path.stem]])
        else:
            pipeline = load_config(path, PipelineConfig)
            for entry in pipeline.stages:
                entry = dict(entry)
                from_dict(STAGES[entry.pop("stage")], entry)


# -- rewards (the same scorer as eval) ------------------------------------------------------
HUMANEVAL_SPEC = {"kind": "code", "prompt": 'def add(a, b):\n    """Sum of a and b."""\n', "entry_point": "add",
                  "tests": "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n"}


def test_code_reward_wraps_and_extracts_like_eval():
    from eval.benchmarks import Item
    from eval.scoring import score as eval_score
    from training.rewards import score

    body = "```python\n    return a + b\n```"  # a body that continues the prompt's function, as eval accepts
    fenced_wrong = "```python\ndef add(a, b):\n    return a - b\n```"  # fails only when check(add) runs
    fenced_right = "Here:\n```python\ndef add(a, b):\n    return a + b\n```"
    item = Item(id="he", prompt="", kind="code", gold={"test": HUMANEVAL_SPEC["tests"],
                                                       "prompt": HUMANEVAL_SPEC["prompt"], "entry_point": "add"})
    for text, expected in ((body, 1.0), (fenced_wrong, 0.0), (fenced_right, 1.0)):
        assert score(text, HUMANEVAL_SPEC) == expected == eval_score(item, text).score


def test_correctness_reward_scores_ifeval_with_the_prompt_and_skips_rubrics():
    import json

    from training.rewards import correctness_reward

    spec = json.dumps({"kind": "ifeval", "instruction_ids": ["change_case:english_lowercase",
                                                             "punctuation:no_comma"], "kwargs": [{}, {}]})
    prompts = [[{"role": "user", "content": "Answer in lowercase without commas."}]] * 3
    rubric = json.dumps({"kind": "rubric", "rubric": "is it kind?"})
    rewards = correctness_reward(["all lower case here", "Upper, and comma", "Hello there"],
                                 [spec, spec, rubric], prompts=prompts)
    assert rewards == [1.0, 0.0, None]
