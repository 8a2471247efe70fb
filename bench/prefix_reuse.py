"""What reproducible sampling costs: llama.cpp re-evaluating each prompt instead of reusing the
KV prefix left by the previous call, on a workload shaped like the agent's and the eval's.

    .venv/bin/python bench/prefix_reuse.py [--repeats 3]

Workload (on the embedded model, the backend's chat prompts and system prompt): 6 questions,
each sampled 4 times at temperature 0.7 with seeds 0..3 (eval ``--n 4``, vote ``k=4``), answered
greedily, then continued from that answer with ``Final answer: \\boxed{`` (budget forcing).
Modes, run on one ``Llama`` as the backend holds it:

- ``reuse``: llama-cpp-python's default, the KV prefix of the previous call is kept when the new
  prompt starts with it (what the backend did before);
- ``reset``: ``Llama.reset()`` before every call, the whole prompt evaluated as one batch (what
  ``LlamaCppBackend`` and ``reasoner.llamacpp_server`` do now).

Each mode runs the workload in order and again in reverse question order: ``same texts`` counts
the outputs that came out identical both times (history independence). Prompt tokens evaluated
are counted at llama.cpp's ``eval``. Repeats are interleaved; medians shown. Run it under the
CPU lock.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

QUESTIONS = [
    "Betty has $50 and her parents give her $15. How much money does she have now?",
    "A train travels 60 km in 45 minutes. What is its speed in km per hour?",
    "What is 17 * 23?",
    "A rectangle is 7 cm wide and 12 cm long. What is its area?",
    "Tom reads 12 pages a day. How many pages does he read in two weeks?",
    "What is the sum of the first ten positive integers?",
]
FORCE = "\n\nFinal answer: \\boxed{"


class Counter:
    """Counts the prompt tokens llama.cpp evaluates: the first ``eval`` of each completion."""

    def __init__(self, llm) -> None:
        self.llm, self.inner, self.armed, self.tokens = llm, llm.eval, False, 0
        llm.eval = self.eval

    def eval(self, tokens) -> None:
        if self.armed:
            self.tokens += len(tokens)
            self.armed = False
        self.inner(tokens)


def workload(backend, counter: Counter, reset: bool, order: list[int]) -> tuple[dict, float, int, int]:
    """Outputs keyed by call, seconds, prompt tokens evaluated, prompt tokens sent."""
    llm = backend.llm
    outputs, sent = {}, 0
    counter.tokens = 0

    def complete(key, messages, max_tokens: int, temperature: float, seed: int | None) -> str:
        nonlocal sent
        tokens = backend.prompt_tokens(messages)
        sent += len(tokens)
        if reset:
            llm.reset()
        counter.armed = True
        out = llm.create_completion(prompt=tokens, max_tokens=max_tokens, temperature=temperature, top_p=0.95,
                                    top_k=0, seed=-1 if seed is None else seed)
        outputs[key] = out["choices"][0]["text"]
        return outputs[key]

    start = time.perf_counter()
    for i in order:
        question = [{"role": "user", "content": QUESTIONS[i]}]
        for seed in range(4):
            complete((i, "sample", seed), question, 48, 0.7, seed)
        answer = complete((i, "greedy"), question, 48, 0.0, None)
        complete((i, "forced"), [*question, {"role": "assistant", "content": answer.rstrip() + FORCE}], 8, 0.0, None)
    return outputs, time.perf_counter() - start, counter.tokens, sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from reasoner.llamacpp import LlamaCppBackend

    backend = LlamaCppBackend()
    counter = Counter(backend.llm)
    forward, backward = list(range(len(QUESTIONS))), list(reversed(range(len(QUESTIONS))))
    rows: dict[str, dict[str, list[float]]] = {}
    for _ in range(args.repeats):
        for mode in ("reuse", "reset"):
            first, seconds_a, evaluated_a, sent = workload(backend, counter, mode == "reset", forward)
            again, seconds_b, evaluated_b, _ = workload(backend, counter, mode == "reset", backward)
            row = rows.setdefault(mode, {})
            row.setdefault("seconds", []).extend([seconds_a, seconds_b])
            row.setdefault("evaluated", []).extend([evaluated_a, evaluated_b])
            row.setdefault("sent", []).append(sent)
            row.setdefault("same", []).append(sum(first[k] == again[k] for k in first))
            row.setdefault("calls", []).append(len(first))

    print(f"prefix reuse vs fresh prompts, {len(QUESTIONS)} questions x (4 seeded samples + greedy + forced "
          f"answer) = {rows['reset']['calls'][0]} calls; median of {2 * args.repeats} passes; load average "
          f"{os.getloadavg()[0]:.2f}; llama.cpp threads {backend.llm.n_threads}")
    print(f"{'mode':<7}{'prompt tokens sent':>20}{'evaluated':>11}{'seconds':>9}{'same texts (both orders)':>27}")
    for mode, row in rows.items():
        print(f"{mode:<7}{statistics.median(row['sent']):>20.0f}{statistics.median(row['evaluated']):>11.0f}"
              f"{statistics.median(row['seconds']):>9.2f}"
              f"{min(row['same']):>19.0f} of {row['calls'][0]:<3}")
    extra = statistics.median(rows["reset"]["evaluated"]) - statistics.median(rows["reuse"]["evaluated"])
    cost = statistics.median(rows["reset"]["seconds"]) - statistics.median(rows["reuse"]["seconds"])
    print(f"cost of reset: {extra:.0f} more prompt tokens evaluated ({extra / rows['reset']['calls'][0]:.0f} a call), "
          f"{cost:+.2f} s ({cost / statistics.median(rows['reuse']['seconds']):+.1%}) over the workload")


if __name__ == "__main__":
    main()
