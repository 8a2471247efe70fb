"""``corecover reasoner …``: talk to a backend directly, and serve the reasoner over HTTP."""

from __future__ import annotations

import json
from typing import Annotated

import typer

app = typer.Typer(help="The reasoner: generate with a backend, serve it over the OpenAI API.",
                  no_args_is_help=True)


@app.command()
def generate(
    prompt: Annotated[str, typer.Argument(help="the user message")],
    backend: Annotated[str, typer.Option(help="backend spec")] = "llamacpp:embedded",
    n: Annotated[int, typer.Option(help="number of samples")] = 1,
    max_tokens: Annotated[int | None, typer.Option(help="token cap")] = None,
    temperature: Annotated[float | None, typer.Option(help="sampling temperature")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the completions as JSON")] = False,
) -> None:
    """Sample completions from a backend and print them."""
    from reasoner import BackendError, load_backend

    try:
        results = load_backend(backend).generate(prompt, n=n, max_tokens=max_tokens, temperature=temperature)
    except BackendError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps([c.to_dict() for c in results], ensure_ascii=False, indent=2))
        return
    for c in results:
        typer.echo(c.text)
        typer.echo(f"-- final answer: {c.final_answer}  ({c.completion_tokens} tokens, {c.latency_s:.2f}s, "
                   f"{c.finish_reason})", err=True)
