"""Sampling rollouts for the filters, the probes and the teacher: in process with transformers
(a checkpoint path or a loaded model), or from any reasoner backend spec (``openai:URL?model=X``
for a vLLM server in production)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.progress import Progress

from training.config import SamplingConfig

Messages = list[dict[str, str]]


def is_backend_spec(source: Any) -> bool:
    """True for reasoner spec strings such as ``openai:http://host/v1?model=X`` or ``llamacpp:embedded``."""
    from reasoner.registry import BACKENDS

    return isinstance(source, str) and source.partition(":")[0].lower() in BACKENDS and ":" in source


def sample(source: Any, prompts: Sequence[Messages], n: int, sampling: SamplingConfig | None = None,
           tokenizer: Any = None, seed: int | None = None) -> list[list[str]]:
    """``n`` sampled answers for each chat prompt.

    ``source`` is a reasoner spec string, a checkpoint path (or ``embedded``), or a loaded
    transformers model (then pass its ``tokenizer``).
    """
    sampling = sampling or SamplingConfig()
    if is_backend_spec(source):
        return _sample_backend(source, prompts, n, sampling, seed)
    if isinstance(source, str):
        from training.checkpoint import load_model

        source, tokenizer = load_model(source)
    return _sample_hf(source, tokenizer, prompts, n, sampling, seed)


def _sample_backend(spec: str, prompts: Sequence[Messages], n: int, sampling: SamplingConfig,
                    seed: int | None) -> list[list[str]]:
    from reasoner.registry import load_backend

    backend = load_backend(spec)
    out = []
    with Progress(transient=True) as progress:
        task = progress.add_task(f"sampling {spec}", total=len(prompts))
        for prompt in prompts:
            completions = backend.generate(prompt, n=n, max_tokens=sampling.max_new_tokens,
                                           temperature=sampling.temperature, top_p=sampling.top_p, seed=seed)
            out.append([c.text for c in completions])
            progress.advance(task)
    return out


def _sample_hf(model: Any, tokenizer: Any, prompts: Sequence[Messages], n: int, sampling: SamplingConfig,
               seed: int | None) -> list[list[str]]:
    import torch

    if seed is not None:
        torch.manual_seed(seed)
    was_training = model.training
    model.eval()
    padding_side, tokenizer.padding_side = tokenizer.padding_side, "left"
    texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
    per_batch = max(1, sampling.batch_size // max(n, 1))
    greedy = sampling.temperature == 0
    out: list[list[str]] = []
    try:
        with Progress(transient=True) as progress, torch.no_grad():
            task = progress.add_task("sampling", total=len(texts))
            for start in range(0, len(texts), per_batch):
                batch = tokenizer(texts[start:start + per_batch], return_tensors="pt", padding=True,
                                  add_special_tokens=False).to(model.device)
                options = (dict(do_sample=False) if greedy else  # greedy: one answer, repeated n times
                           dict(do_sample=True, temperature=sampling.temperature, top_p=sampling.top_p,
                                top_k=None, num_return_sequences=n))
                generated = model.generate(**batch, max_new_tokens=sampling.max_new_tokens,
                                           pad_token_id=tokenizer.pad_token_id, **options)
                decoded = tokenizer.batch_decode(generated[:, batch["input_ids"].shape[1]:],
                                                 skip_special_tokens=True)
                if greedy:
                    out.extend([text] * n for text in decoded)
                else:
                    out.extend(decoded[i:i + n] for i in range(0, len(decoded), n))
                progress.advance(task, len(batch["input_ids"]))
    finally:
        tokenizer.padding_side = padding_side
        model.train(was_training)
    return out
