"""Load on `corecover serve`: 64 concurrent clients on loopback for 30 s against the real agent.

Starts the server(s) in subprocesses (embedded reasoner, default index, short answers), then
measures, in one run:

- baseline: one client alone (unloaded completion latency) and /healthz under full load
  (the HTTP floor);
- load: ``--clients`` clients, each holding one conversation thread (``X-Thread-Id``), asking
  math and knowledge questions, half of them streamed, for ``--seconds``; a client told 429
  waits ``Retry-After``-ish (0.25 s) and asks again. With ``--replicas 2`` two servers share one
  PostgreSQL database (a throwaway local server) and each client sends its turns to the
  replicas in turn, so every turn continues a thread the other replica wrote.

Prints throughput, p50/p95 latency, and counts of 429s, 5xx, lost requests (no answer, broken
connection, or a stream that ended without ``[DONE]``) and lost turns (an answered turn missing
from its thread's saved history afterwards). Targets: zero 5xx, zero lost, zero lost turns.
``--compare`` runs one replica on SQLite, then two on PostgreSQL, and prints both.

    python bench/serve_load.py [--clients 64] [--seconds 30] [--max-concurrency 8]
                               [--replicas 1|2] [--compare]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.local_postgres import LocalPostgres, free_port  # noqa: E402

QUESTIONS = ["What is 17 * 23?", "What is 12 + 30?", "Solve 3x + 5 = 20 for x.", "What is 9 squared?",
             "Who painted the Mona Lisa?", "What is the capital of Australia?", "Who was Isaac Newton?",
             "Where is Mount Everest?"]


def start_server(port: int, args: argparse.Namespace, folder: Path, name: str,
                 checkpoint_url: str | None) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "CORECOVER_MAX_CONCURRENCY": str(args.max_concurrency),
           "CORECOVER_REASONER_MAX_TOKENS": str(args.max_tokens), "CORECOVER_REASONER_TEMPERATURE": "0",
           "CORECOVER_CHECKPOINT_DB": str(folder / "threads.sqlite"), "CORECOVER_REQUEST_TIMEOUT": "120"}
    for key in ("CORECOVER_API_KEY", "CORECOVER_KEYS_FILE", "CORECOVER_USERS", "CORECOVER_CHECKPOINT_URL"):
        env.pop(key, None)
    if checkpoint_url:
        env["CORECOVER_CHECKPOINT_URL"] = checkpoint_url
    code = f"from agent.server import serve; serve('127.0.0.1', {port})"
    log = open(folder / f"{name}.log", "w")  # noqa: SIM115 (a file, not a pipe: access logs never block)
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=log, stderr=log)


async def wait_ready(base: str, server: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base) as http:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise SystemExit(f"server exited with {server.returncode}: see {server.args}")
            try:
                if (await http.get("/healthz")).json().get("status") == "ok":
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit("server did not start")


@dataclass
class Conversation:
    """One client's thread: the questions answered on it (200), in order."""

    thread: str | None = None
    answered: list[str] = field(default_factory=list)


async def ask(http: httpx.AsyncClient, base: str, question: str, stream: bool, usage: list | None = None,
              talk: Conversation | None = None) -> str:
    """One completion; returns its outcome: ok, 429, 5xx, 4xx or lost (``usage`` collects the
    agent's per-node usage of non-streamed answers; ``talk`` continues and records a thread)."""
    body = {"model": "corecover", "stream": stream, "messages": [{"role": "user", "content": question}]}
    headers = {"X-Thread-Id": talk.thread} if talk and talk.thread else {}
    url = f"{base}/v1/chat/completions"
    try:
        if not stream:
            response = await http.post(url, json=body, headers=headers)
            if response.status_code != 200:
                return classify(response.status_code)
            if usage is not None:
                usage.append(response.json()["corecover"]["usage"])
            outcome = "ok" if response.json()["choices"][0]["message"]["content"] is not None else "lost"
        else:
            async with http.stream("POST", url, json=body, headers=headers) as response:
                if response.status_code != 200:
                    await response.aread()
                    return classify(response.status_code)
                done = errored = False
                async for line in response.aiter_lines():
                    if line == "data: [DONE]":
                        done = True
                    elif line.startswith('data: {"error"'):
                        errored = json.loads(line[6:])["error"].get("code")
                if errored:
                    return "5xx"   # a failure after the first token (backend error or timeout mid-stream)
                outcome = "ok" if done else "lost"
        if talk is not None and outcome == "ok":
            talk.thread = talk.thread or response.headers["x-thread-id"]
            talk.answered.append(question)
        return outcome
    except httpx.HTTPError:
        return "lost"


def classify(status: int) -> str:
    return "429" if status == 429 else "5xx" if status >= 500 else "4xx"


async def client(http: httpx.AsyncClient, bases: list[str], stop_at: float, results: list[tuple[str, float]],
                 seed: int, talk: Conversation) -> None:
    """One simulated user on one thread: asks, sending each turn to the next replica; after a 429
    waits a little before asking again."""
    rng = random.Random(seed)
    turn = seed
    while time.monotonic() < stop_at:
        started = time.monotonic()
        outcome = await ask(http, bases[turn % len(bases)], rng.choice(QUESTIONS), stream=rng.random() < 0.5,
                            talk=talk)
        results.append((outcome, time.monotonic() - started))
        turn += 1
        if outcome == "429":
            await asyncio.sleep(0.25 + rng.random() * 0.1)


async def lost_turns(http: httpx.AsyncClient, bases: list[str], talks: list[Conversation]) -> int:
    """Answered turns missing from their thread's saved history (read from the other replica)."""
    lost = 0
    for i, talk in enumerate(talks):
        if not talk.thread:
            continue
        response = await http.get(f"{bases[(i + 1) % len(bases)]}/api/threads/{talk.thread}")
        saved = iter([m["content"] for m in response.json()["messages"] if m["role"] == "user"]
                     if response.status_code == 200 else [])
        lost += sum(1 for question in talk.answered if question not in saved)  # in order: a subsequence
    return lost


async def health_floor(http: httpx.AsyncClient, base: str, clients: int, seconds: float) -> tuple[float, list[float]]:
    latencies: list[float] = []
    stop_at = time.monotonic() + seconds

    async def one() -> None:
        while time.monotonic() < stop_at:
            started = time.monotonic()
            (await http.get(f"{base}/healthz")).raise_for_status()
            latencies.append(time.monotonic() - started)

    await asyncio.gather(*(one() for _ in range(clients)))
    return len(latencies) / seconds, latencies


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) >= 2 else (values[0] if values else 0.0)


async def measure(args: argparse.Namespace, replicas: int) -> dict:
    """Start ``replicas`` servers (Postgres when more than one), load them, return the figures."""
    with tempfile.TemporaryDirectory(prefix="corecover-bench-") as tmp, contextlib.ExitStack() as stack:
        url = stack.enter_context(LocalPostgres()).url if replicas > 1 else None
        ports = [free_port() for _ in range(replicas)]
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        servers = [start_server(port, args, Path(tmp), f"replica-{i}", url) for i, port in enumerate(ports)]
        try:
            for base, server in zip(bases, servers, strict=True):
                await wait_ready(base, server)
            limits = httpx.Limits(max_connections=args.clients * 2, max_keepalive_connections=args.clients * 2)
            async with httpx.AsyncClient(timeout=300, limits=limits) as http:
                for base in bases:
                    for question in ("What is 1 + 1?", "Who painted the Mona Lisa?"):   # warm: load the models
                        assert await ask(http, base, question, stream=False) == "ok"
                alone, usage = [], []
                for question in QUESTIONS:
                    started = time.monotonic()
                    assert await ask(http, bases[0], question, stream=False, usage=usage) == "ok"
                    alone.append(time.monotonic() - started)
                health_rps, health_lat = await health_floor(http, bases[0], args.clients, 5)

                results: list[tuple[str, float]] = []
                talks = [Conversation() for _ in range(args.clients)]
                started = time.monotonic()
                stop_at = started + args.seconds
                users = (client(http, bases, stop_at, results, i, talks[i]) for i in range(args.clients))
                await asyncio.wait_for(asyncio.gather(*users), args.seconds + 300)
                elapsed = time.monotonic() - started
                lost = await lost_turns(http, bases, talks)
        except BaseException:
            for i in range(replicas):
                print((Path(tmp) / f"replica-{i}.log").read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            for server in servers:
                server.terminate()
            for server in servers:
                server.wait(30)
    return {"replicas": replicas, "store": "PostgreSQL" if url else "SQLite", "alone": alone, "usage": usage,
            "health_rps": health_rps, "health_lat": health_lat, "results": results, "elapsed": elapsed,
            "lost_turns": lost, "turns": sum(len(t.answered) for t in talks)}


def report(run: dict, args: argparse.Namespace) -> Counter:
    results, elapsed, alone = run["results"], run["elapsed"], run["alone"]
    counts = Counter(outcome for outcome, _ in results)
    ok_lat = [seconds for outcome, seconds in results if outcome == "ok"]
    refused = [seconds for outcome, seconds in results if outcome == "429"]
    health_lat = run["health_lat"]
    print(f"\n== {run['replicas']} replica(s), threads in {run['store']}: {args.clients} clients, "
          f"{args.seconds:.0f} s, max_concurrency={args.max_concurrency} each, max_tokens={args.max_tokens}, "
          f"{os.cpu_count()} cores")
    print(f"{'':28}{'req/s':>9}{'p50 ms':>10}{'p95 ms':>10}{'n':>8}")
    print(f"{'baseline: 1 client, alone':28}{len(alone) / sum(alone):9.2f}{pct(alone, 50) * 1e3:10.0f}"
          f"{pct(alone, 95) * 1e3:10.0f}{len(alone):8d}")
    print(f"{'baseline: /healthz, loaded':28}{run['health_rps']:9.1f}{pct(health_lat, 50) * 1e3:10.1f}"
          f"{pct(health_lat, 95) * 1e3:10.1f}{len(health_lat):8d}")
    print(f"{'load: answered (200)':28}{len(ok_lat) / elapsed:9.2f}{pct(ok_lat, 50) * 1e3:10.0f}"
          f"{pct(ok_lat, 95) * 1e3:10.0f}{len(ok_lat):8d}")
    print(f"{'load: refused (429)':28}{len(refused) / elapsed:9.2f}{pct(refused, 50) * 1e3:10.1f}"
          f"{pct(refused, 95) * 1e3:10.1f}{len(refused):8d}")
    print(f"p50 latency loaded / alone: {pct(ok_lat, 50) / max(pct(alone, 50), 1e-9):.2f}x")
    usage = run["usage"]
    nodes = sorted({node for entry in usage for node in entry if node != "total"})
    print("alone, median seconds per node: " + ", ".join(
        f"{node} {statistics.median(e[node]['seconds'] for e in usage if node in e):.2f}" for node in nodes))
    print(f"requests: {len(results)}   5xx: {counts['5xx']}   lost: {counts['lost']}   other 4xx: {counts['4xx']}   "
          f"lost turns: {run['lost_turns']} of {run['turns']}   (targets: 0, 0, 0)")
    counts["lost_turns"] = run["lost_turns"]
    return counts


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--max-concurrency", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--replicas", type=int, default=1, choices=(1, 2),
                        help="2: two servers on one PostgreSQL database, turns alternating between them")
    parser.add_argument("--compare", action="store_true", help="1 replica on SQLite, then 2 on PostgreSQL")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))   # stop the servers and the database too
    sys.stdout.reconfigure(line_buffering=True)

    failed = False
    for replicas in ((1, 2) if args.compare else (args.replicas,)):
        counts = report(await measure(args, replicas), args)
        failed |= bool(counts["5xx"] or counts["lost"] or counts["lost_turns"])
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    asyncio.run(main())
