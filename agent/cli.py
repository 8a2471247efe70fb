"""The ``corecover`` command. Each package owns its sub-commands; this file mounts them."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

app = typer.Typer(help="corecover: a small reasoner for reasoning, retrieval for knowledge.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
config_app = typer.Typer(help="Show the settings in effect.", no_args_is_help=True)
app.add_typer(config_app, name="config")

# Each package's own sub-commands, mounted when the command line names them (or for --help):
# a question never pays for importing the eval, training and index command modules.
SUBCOMMANDS = {"reasoner": "reasoner.cli", "index": "retriever.cli", "eval": "eval.cli", "train": "training.cli"}
_mounted: set[str] = set()


def mount(names: Iterable[str] = SUBCOMMANDS) -> typer.Typer:
    """Add the named package sub-command groups to :data:`app` (all by default); returns the app."""
    for name in names:
        if name not in _mounted:
            app.add_typer(importlib.import_module(SUBCOMMANDS[name]).app, name=name)
            _mounted.add(name)
    return app

err = Console(stderr=True)
out = Console()

EXAMPLES = [
    "What is 17 * 23?",
    "Who painted the Mona Lisa?",
    "How many years passed between the birth of Isaac Newton and the birth of Albert Einstein?",
]
ROUTE_STYLE = {"reason": "magenta", "knowledge": "cyan", "mixed": "yellow"}
STATUS_STYLE = {"verified": ("Verified", "bold green"), "grounded": ("Grounded", "bold green"),
                "unverified": ("Unverified", "bold yellow"), "low_confidence": ("Low confidence", "bold yellow"),
                "not_grounded": ("Not covered", "bold red"), "escalated": ("Larger model", "bold red"),
                "truncated": ("Truncated", "bold red")}
CHECK_MARK = {"passed": "[green]✓[/]", "failed": "[red]✗[/]"}

Route = Annotated[str | None, typer.Option("--route", help="force a route: reason, knowledge or mixed")]
Thread = Annotated[str | None, typer.Option("--thread", help="conversation thread id (new if unknown)")]


def user_errors() -> tuple[type[Exception], ...]:
    """Errors that carry a one-line message for the user (printed without a traceback)."""
    from agent.nodes import AgentInputError
    from agent.router import RouterError
    from reasoner import BackendError
    from retriever import RetrieverError

    return AgentInputError, BackendError, RetrieverError, RouterError, ValueError


def fail(message: str, code: int = 1) -> None:
    """Print a one-line error and exit."""
    err.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


def _options(think_budget: int | None, tts: str | None, k: int | None, max_tokens: int | None) -> dict[str, Any]:
    options = {"think_budget": think_budget, "tts": tts, "k": k, "max_tokens": max_tokens}
    return {key: value for key, value in options.items() if value is not None}


def show(result: dict[str, Any], show_thinking: bool = False, streamed: bool = False) -> None:
    """Print an answer object for people."""
    route = result.get("route") or "?"
    badge = f"[bold {ROUTE_STYLE.get(route, 'white')}]{route}[/]"
    if result.get("escalated"):
        badge += " [bold red]escalated[/]"
    scores = ", ".join(f"{k} {v:.2f}" for k, v in (result.get("route_scores") or {}).items())
    label, style = STATUS_STYLE.get(result.get("status") or "", (result.get("status") or "?", "bold"))
    out.print(f"[dim]route:[/] {badge}  [dim]{scores}[/]  [dim]status:[/] [{style}]{escape(label)}[/]")
    if result.get("standalone_question") != result.get("question"):
        out.print(f"[dim]standalone question:[/] {escape(result['standalone_question'])}")
    if show_thinking and result.get("reasoning"):
        out.print(f"[dim italic]{escape(result['reasoning'])}[/]")
    if not streamed:
        out.print(escape(result.get("answer") or ""))
    if result.get("final_answer"):
        trusted = result.get("status") in ("verified", "grounded")
        tag = "final answer:" if trusted else f"final answer ({label.lower()}):"
        out.print(f"[{'bold green' if trusted else 'bold yellow'}]{tag}[/] {escape(str(result['final_answer']))}")
    for c in result.get("citations") or []:
        out.print(f"  [cyan][{c['n']}][/] [bold]{escape(c['title'])}[/] [dim]{escape(c['text'][:110])}…[/]")
    for check in result.get("checks") or []:
        mark = CHECK_MARK.get(check.get("outcome"), "[dim]·[/]")
        out.print(f"  {mark} [dim]{escape(str(check.get('name')))}: {escape(str(check.get('detail', '')))}[/]")
    for note in result.get("notes") or []:
        out.print(f"[dim]note: {escape(note)}[/]")
    total = (result.get("usage") or {}).get("total", {})
    models = sorted({u["backend"] for u in (result.get("usage") or {}).values()
                     if u.get("completion_tokens") and u.get("backend")})
    out.print(f"[dim]{total.get('completion_tokens', 0):.0f} tokens generated by {', '.join(models) or '-'}, "
              f"{total.get('seconds', 0):.2f}s, thread {result.get('thread_id')}[/]")


async def _ask_all(questions: list[str], thread: str | None, route: str | None, as_json: bool,
                   stream: bool, show_thinking: bool, options: dict[str, Any]) -> None:
    from agent.components import prefetch

    prefetch()  # the models load while LangGraph is imported
    from agent.runner import AgentRunner

    runner = AgentRunner()
    try:
        for question in questions:
            if not as_json:
                out.rule(f"[bold]{escape(question[:100])}")
            if stream:
                result = None
                async for event in runner.astream(question, thread, route, **options):
                    if event["type"] == "token" and not as_json:
                        out.print(escape(event["text"]), end="", soft_wrap=True)
                    elif event["type"] == "step" and not as_json:
                        err.print(f"[dim]· {event['node']} {escape(json.dumps(event['data'])[:120])}[/]")
                    elif event["type"] == "result":
                        result = event["result"]
                if not as_json:
                    out.print()
            else:
                result = await runner.ainvoke(question, thread, route, **options)
            assert result is not None
            if as_json:
                print(json.dumps(result, ensure_ascii=False))
            else:
                show(result, show_thinking, streamed=stream)
    finally:
        await runner.aclose()


@app.command()
def ask(
    questions: Annotated[list[str] | None, typer.Argument(help="questions (default: three examples)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON answer object per question")] = False,
    thread: Thread = None,
    route: Route = None,
    show_thinking: Annotated[bool, typer.Option("--show-thinking", help="print the reasoning trace")] = False,
    stream: Annotated[bool, typer.Option("--stream", help="stream node updates and answer tokens")] = False,
    think_budget: Annotated[int | None, typer.Option("--think-budget", help="max reasoning tokens")] = None,
    tts: Annotated[str | None, typer.Option("--tts", help="test-time scaling: none, vote or clr")] = None,
    k: Annotated[int | None, typer.Option("--k", help="samples for --tts")] = None,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens", help="cap on generated tokens")] = None,
) -> None:
    """Answer questions through the agent graph (default: a reasoning, a knowledge and a mixed example)."""
    import asyncio  # here, not at the top: `route` and `index search` start faster without it

    questions = questions or EXAMPLES
    try:
        asyncio.run(_ask_all(questions, thread, route, as_json, stream, show_thinking,
                             _options(think_budget, tts, k, max_tokens)))
    except user_errors() as exc:
        fail(str(exc))


@app.command()
def chat(
    thread: Thread = None,
    show_thinking: Annotated[bool, typer.Option("--show-thinking", help="print reasoning traces")] = False,
) -> None:
    """A terminal chat on a thread. Commands: /new (new thread), /thread (show id), /exit."""
    import asyncio
    import uuid

    thread = thread or uuid.uuid4().hex
    out.print(f"[dim]thread {thread} — /new starts a new thread, /exit quits[/]")
    while True:
        try:
            line = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            out.print()
            return
        if line in ("/exit", "/quit"):
            return
        if line == "/new":
            thread = uuid.uuid4().hex
            out.print(f"[dim]new thread {thread}[/]")
            continue
        if line == "/thread":
            out.print(thread)
            continue
        if not line:
            continue
        try:
            asyncio.run(_ask_all([line], thread, None, False, True, show_thinking, {}))
        except user_errors() as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}")


@app.command()
def route(
    question: Annotated[str, typer.Argument(help="the question to classify")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON with route and scores")] = False,
    explain: Annotated[bool, typer.Option("--explain", help="say why")] = False,
) -> None:
    """Show where the verifiability router sends a question, with per-class probabilities."""
    from agent.config import get_settings
    from agent.router import route_command

    try:
        data = route_command(question, explain=explain, path=get_settings().router_path)
    except user_errors() as exc:
        fail(str(exc))
    if as_json:
        print(json.dumps(data, ensure_ascii=False))
        return
    out.print(f"route: [bold {ROUTE_STYLE.get(data['route'], 'white')}]{data['route']}[/]")
    for name, p in sorted(data["scores"].items(), key=lambda kv: -kv[1]):
        out.print(f"  {name:<10} {p:.3f} {'█' * round(p * 30)}")
    for line in data.get("explanation") or []:
        out.print(f"[dim]  {escape(str(line))}[/]")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default 8000)")] = None,
    api_key: Annotated[str | None, typer.Option("--api-key", help="require this API key")] = None,
) -> None:
    """Serve the agent: OpenAI-compatible /v1/chat/completions and the chat page at /."""
    from agent.server import serve as run_server

    run_server(host=host, port=port, api_key=api_key)


@config_app.command("show")
def config_show(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Print the settings in effect (env vars CORECOVER_* and the TOML file)."""
    from rich.table import Table

    from agent.config import Settings, config_file

    try:
        data = Settings().public()
    except ValueError as exc:
        fail(f"invalid settings: {exc}")
    if as_json:
        print(json.dumps(data, indent=2))
        return
    table = Table(title=f"corecover settings (file: {config_file() or 'none'})")
    for column in ("setting", "value", "env var"):
        table.add_column(column)
    for key, value in data.items():
        table.add_row(key, json.dumps(value), f"CORECOVER_{key.upper()}")
    out.print(table)


def main() -> None:
    """Console-script entry point."""
    words = [arg for arg in sys.argv[1:] if not arg.startswith("-")]
    first = words[0] if words else None
    own = {command.name or command.callback.__name__ for command in app.registered_commands} | {"config"}
    mount([first] if first in SUBCOMMANDS else [] if first in own else SUBCOMMANDS)
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
