"""A pluggable rubric reward model: any OpenAI-compatible chat endpoint grades open-ended answers
against the record's rubric (vLLM, SGLang, llama.cpp server, Ollama, OpenAI...)."""

from __future__ import annotations

import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from training.rewards import completion_text

JUDGE_PROMPT = """You grade an assistant's answer against a rubric.

Question:
{question}

Rubric:
{rubric}

Answer:
{answer}

Reply with one line "Score: N" where N is an integer from 0 (fails the rubric) to 10 (fully meets it)."""

_SCORE = re.compile(r"score\s*[:=]?\s*(\d+(?:\.\d+)?)", re.I)


def parse_score(text: str, scale: float = 10.0) -> float | None:
    """A judge reply's score mapped to [0, 1] (``None`` when the reply has no score)."""
    found = _SCORE.findall(text or "")
    if not found:
        return None
    return max(0.0, min(1.0, float(found[-1]) / scale))


class RubricJudge:
    """TRL reward function scoring ``rubric`` records with an LLM judge; ``None`` for other records.

    ``base_url`` and ``model`` name the endpoint; the API key comes from the ``api_key_env``
    environment variable (none needed for a local server).
    """

    __name__ = "rubric_judge"

    def __init__(self, base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY", temperature: float = 0.0,
                 max_tokens: int = 16, timeout: float = 60.0, workers: int = 8) -> None:
        from openai import OpenAI

        self.client = OpenAI(base_url=base_url, api_key=os.environ.get(api_key_env) or "none", timeout=timeout)
        self.model, self.temperature, self.max_tokens, self.workers = model, temperature, max_tokens, workers

    def grade(self, question: str, rubric: str, answer: str) -> float | None:
        reply = self.client.chat.completions.create(
            model=self.model, temperature=self.temperature, max_tokens=self.max_tokens,
            messages=[{"role": "user", "content": JUDGE_PROMPT.format(question=question, rubric=rubric,
                                                                      answer=answer)}])
        return parse_score(reply.choices[0].message.content or "")

    def __call__(self, prompts: list, completions: list, reward: list[str], **_: Any) -> list[float | None]:
        def one(args: tuple[Any, Any, str]) -> float | None:
            prompt, completion, spec = args
            spec = json.loads(spec)
            if spec["kind"] != "rubric":
                return None
            question = prompt if isinstance(prompt, str) else prompt[-1]["content"]
            from eval.scoring import answer_part

            return self.grade(question, spec["rubric"], answer_part(completion_text(completion)))

        with ThreadPoolExecutor(self.workers) as pool:
            return list(pool.map(one, zip(prompts, completions, reward, strict=True)))
