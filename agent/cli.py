"""The ``corecover`` command. Each package owns its sub-commands; this file mounts them."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console

from reasoner.cli import app as reasoner_app

app = typer.Typer(help="corecover: a small reasoner for reasoning, retrieval for knowledge.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
config_app = typer.Typer(help="Show the settings in effect.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(reasoner_app, name="reasoner")

console = Console(stderr=True)

EXAMPLES = [
    "What is 17 * 23?",
    "If a train travels 60 km per hour for 2.5 hours, how far does it go?",
]


def fail(message: str, code: int = 1) -> None:
    """Print a one-line error and exit."""
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


@config_app.command("show")
def config_show(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Print the settings in effect (env vars CORECOVER_* and the TOML file)."""
    from agent.config import Settings, config_file

    data = Settings().public()
    if as_json:
        print(json.dumps(data, indent=2))
        return
    from rich.table import Table

    table = Table(title=f"corecover settings (file: {config_file() or 'none'})")
    table.add_column("setting")
    table.add_column("value")
    table.add_column("env var")
    for key, value in data.items():
        table.add_row(key, json.dumps(value), f"CORECOVER_{key.upper()}")
    Console().print(table)


def answer_question(question: str) -> dict[str, Any]:
    """Answer one question on the configured reasoner (the reasoning route)."""
    from agent.config import get_settings
    from reasoner import load_backend

    settings = get_settings()
    backend = load_backend(settings.reasoner)
    completion = backend.generate(question, max_tokens=settings.reasoner_max_tokens,
                                  temperature=settings.reasoner_temperature)[0]
    return {
        "question": question,
        "standalone_question": question,
        "route": "reason",
        "answer": completion.answer or completion.text,
        "final_answer": completion.final_answer,
        "reasoning": completion.reasoning,
        "citations": [],
        "truncated": completion.truncated,
        "usage": {"reason": {"prompt_tokens": completion.prompt_tokens,
                             "completion_tokens": completion.completion_tokens,
                             "seconds": round(completion.latency_s, 3),
                             "backend": f"{completion.backend}:{completion.model}"}},
    }


@app.command()
def ask(
    questions: Annotated[list[str] | None, typer.Argument(help="questions (default: built-in examples)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object per question")] = False,
) -> None:
    """Answer questions. Without arguments, answers a few built-in example questions."""
    from reasoner import BackendError

    for question in questions or EXAMPLES:
        if not question.strip():
            fail("the question is empty: pass some text, e.g. corecover ask \"What is 2+2?\"")
        try:
            result = answer_question(question)
        except BackendError as exc:
            fail(str(exc))
        if as_json:
            print(json.dumps(result, ensure_ascii=False))
        else:
            out = Console()
            out.rule(f"[bold]{question}")
            out.print(f"[dim]route:[/] {result['route']}")
            out.print(result["answer"])
            if result["final_answer"]:
                out.print(f"[bold green]final answer:[/] {result['final_answer']}")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)
