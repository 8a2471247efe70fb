"""Load on `corecover serve`: 64 concurrent clients on loopback for 30 s against the real agent.

Starts the server in a subprocess (embedded reasoner, default index, short answers), then
measures, in one run:

- baseline: one client alone (unloaded completion latency) and /healthz under full load
  (the HTTP floor);
- load: ``--clients`` clients asking math and knowledge questions, half of them streamed,
  for ``--seconds``; a client told 429 waits ``Retry-After``-ish (0.25 s) and asks again.

Prints throughput, p50/p95 latency, and counts of 429s, 5xx and lost requests (no answer,
broken connection, or a stream that ended without ``[DONE]``). Targets: zero 5xx, zero lost.

    python bench/serve_load.py [--clients 64] [--seconds 30] [--max-concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ["What is 17 * 23?", "What is 12 + 30?", "Solve 3x + 5 = 20 for x.", "What is 9 squared?",
             "Who painted the Mona Lisa?", "What is the capital of Australia?", "Who was Isaac Newton?",
             "Where is Mount Everest?"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, max_concurrency: int, max_tokens: int, folder: Path) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "CORECOVER_MAX_CONCURRENCY": str(max_concurrency),
           "CORECOVER_REASONER_MAX_TOKENS": str(max_tokens), "CORECOVER_REASONER_TEMPERATURE": "0",
           "CORECOVER_CHECKPOINT_DB": str(folder / "threads.sqlite"), "CORECOVER_REQUEST_TIMEOUT": "120"}
    env.pop("CORECOVER_API_KEY", None)
    code = f"from agent.server import serve; serve('127.0.0.1', {port})"
    log = open(folder / "server.log", "w")  # noqa: SIM115 (a file, not a pipe: access logs never block)
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


async def ask(http: httpx.AsyncClient, question: str, stream: bool, usage: list | None = None) -> str:
    """One completion; returns its outcome: ok, 429, 5xx, 4xx or lost (``usage`` collects the
    agent's per-node usage of non-streamed answers)."""
    body = {"model": "corecover", "stream": stream, "messages": [{"role": "user", "content": question}]}
    try:
        if not stream:
            response = await http.post("/v1/chat/completions", json=body)
            if response.status_code == 200:
                if usage is not None:
                    usage.append(response.json()["corecover"]["usage"])
                return "ok" if response.json()["choices"][0]["message"]["content"] is not None else "lost"
            return classify(response.status_code)
        async with http.stream("POST", "/v1/chat/completions", json=body) as response:
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
                return "5xx"   # a failure after the headers (backend error or timeout mid-stream)
            return "ok" if done else "lost"
    except httpx.HTTPError:
        return "lost"


def classify(status: int) -> str:
    return "429" if status == 429 else "5xx" if status >= 500 else "4xx"


async def client(http: httpx.AsyncClient, stop_at: float, results: list[tuple[str, float]], seed: int) -> None:
    """One simulated user: asks, and after a 429 waits a little before asking again."""
    rng = random.Random(seed)
    while time.monotonic() < stop_at:
        started = time.monotonic()
        outcome = await ask(http, rng.choice(QUESTIONS), stream=rng.random() < 0.5)
        results.append((outcome, time.monotonic() - started))
        if outcome == "429":
            await asyncio.sleep(0.25 + rng.random() * 0.1)


async def health_floor(http: httpx.AsyncClient, clients: int, seconds: float) -> tuple[float, list[float]]:
    latencies: list[float] = []
    stop_at = time.monotonic() + seconds

    async def one() -> None:
        while time.monotonic() < stop_at:
            started = time.monotonic()
            (await http.get("/healthz")).raise_for_status()
            latencies.append(time.monotonic() - started)

    await asyncio.gather(*(one() for _ in range(clients)))
    return len(latencies) / seconds, latencies


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) >= 2 else (values[0] if values else 0.0)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--max-concurrency", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=32)
    args = parser.parse_args()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="corecover-bench-") as tmp:
        server = start_server(port, args.max_concurrency, args.max_tokens, Path(tmp))
        try:
            await wait_ready(base, server)
            limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
            async with httpx.AsyncClient(base_url=base, timeout=300, limits=limits) as http:
                for question in ("What is 1 + 1?", "Who painted the Mona Lisa?"):   # warm: load the models
                    assert await ask(http, question, stream=False) == "ok"
                alone, usage = [], []
                for question in QUESTIONS:
                    started = time.monotonic()
                    assert await ask(http, question, stream=False, usage=usage) == "ok"
                    alone.append(time.monotonic() - started)
                health_rps, health_lat = await health_floor(http, args.clients, 5)

                results: list[tuple[str, float]] = []
                started = time.monotonic()
                stop_at = started + args.seconds
                users = (client(http, stop_at, results, i) for i in range(args.clients))
                await asyncio.wait_for(asyncio.gather(*users), args.seconds + 300)
                elapsed = time.monotonic() - started
        except BaseException:
            print((Path(tmp) / "server.log").read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            server.terminate()
            server.wait(30)

    counts = Counter(outcome for outcome, _ in results)
    ok_lat = [seconds for outcome, seconds in results if outcome == "ok"]
    refused = [seconds for outcome, seconds in results if outcome == "429"]
    print(f"corecover serve under load: {args.clients} clients, {args.seconds:.0f} s, "
          f"max_concurrency={args.max_concurrency}, max_tokens={args.max_tokens}, {os.cpu_count()} cores")
    print(f"{'':28}{'req/s':>9}{'p50 ms':>10}{'p95 ms':>10}{'n':>8}")
    print(f"{'baseline: 1 client, alone':28}{len(alone) / sum(alone):9.2f}{pct(alone, 50) * 1e3:10.0f}"
          f"{pct(alone, 95) * 1e3:10.0f}{len(alone):8d}")
    print(f"{'baseline: /healthz, loaded':28}{health_rps:9.1f}{pct(health_lat, 50) * 1e3:10.1f}"
          f"{pct(health_lat, 95) * 1e3:10.1f}{len(health_lat):8d}")
    print(f"{'load: answered (200)':28}{len(ok_lat) / elapsed:9.2f}{pct(ok_lat, 50) * 1e3:10.0f}"
          f"{pct(ok_lat, 95) * 1e3:10.0f}{len(ok_lat):8d}")
    print(f"{'load: refused (429)':28}{len(refused) / elapsed:9.2f}{pct(refused, 50) * 1e3:10.1f}"
          f"{pct(refused, 95) * 1e3:10.1f}{len(refused):8d}")
    print(f"p50 latency loaded / alone: {pct(ok_lat, 50) / max(pct(alone, 50), 1e-9):.2f}x")
    nodes = sorted({node for entry in usage for node in entry if node != "total"})
    print("alone, median seconds per node: " + ", ".join(
        f"{node} {statistics.median(e[node]['seconds'] for e in usage if node in e):.2f}" for node in nodes))
    print(f"5xx: {counts['5xx']}   lost: {counts['lost']}   other 4xx: {counts['4xx']}   "
          f"(targets: 0 and 0)")
    if counts["5xx"] or counts["lost"]:
        sys.exit(1)


if __name__ == "__main__":
    asyncio.run(main())
