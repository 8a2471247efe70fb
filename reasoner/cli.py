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


@app.command()
def serve(
    model: Annotated[str | None, typer.Option(help="model: a .gguf path, `embedded`, or a Hugging Face id "
                                                   "for vLLM (default: VibeThinker-3B on a GPU, else the "
                                                   "embedded GGUF)")] = None,
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to bind")] = 8000,
    api_key: Annotated[str | None, typer.Option(help="require this key from clients (or env CORECOVER_SERVE_API_KEY; "
                                                     "handed to the server by environment, never shown)",
                                                envvar="CORECOVER_SERVE_API_KEY")] = None,
    engine: Annotated[str, typer.Option(help="auto | vllm | llamacpp")] = "auto",
    wait: Annotated[float, typer.Option(help="seconds to wait for the server to come up")] = 300.0,
) -> None:
    """Serve the reasoner over the OpenAI API (vLLM on a GPU, llama.cpp's server on a CPU)."""
    import signal

    from reasoner import BackendError
    from reasoner.serve import base_url_of, ensure_port_free, plan_server, start, stop, wait_for_models

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    try:
        ensure_port_free(host, port)
        plan = plan_server(model, host=host, port=port, api_key=api_key, engine=engine)
    except BackendError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    base_url = base_url_of(host, port)
    typer.echo(f"starting {plan.engine} for {plan.model}: {plan.describe()}", err=True)
    typer.echo(f"base_url: {base_url}", err=True)
    signal.signal(signal.SIGTERM, interrupt)
    process = start(plan)
    try:
        wait_for_models(base_url, wait, api_key, process, expect=plan.model)
        typer.echo(f"ready: {plan.model} at {base_url}  (try: corecover reasoner generate 'What is 2+3?' "
                   f"--backend 'openai:{base_url}'; Ctrl-C stops)", err=True)
        code = process.wait()
    except KeyboardInterrupt:
        typer.echo("stopping the server", err=True)
        code = 0
    except BackendError as exc:
        typer.echo(f"error: {exc}", err=True)
        code = 1
    finally:
        stop(process)
    raise typer.Exit(code)
