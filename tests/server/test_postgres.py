"""Threads in a real PostgreSQL server: two ``corecover serve`` replicas on one database, and the
database unreachable at start, down between requests, and dying in the middle of a turn."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CORECOVER = str(Path(sys.executable).parent / "corecover")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_env(tmp: Path, **settings: str) -> dict[str, str]:
    """The environment of a ``corecover serve`` started the way a user starts it (no stray settings)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORECOVER_")}
    env.update({"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "XDG_CONFIG_HOME": str(tmp),
                "CORECOVER_REASONER_MAX_TOKENS": "24", "CORECOVER_REASONER_TEMPERATURE": "0",
                "CORECOVER_CHECKPOINT_DB": str(tmp / "unused.sqlite")})
    env.update({f"CORECOVER_{k.upper()}": v for k, v in settings.items()})
    return env


def ask(base: str, question: str, thread: str | None = None, **body) -> httpx.Response:
    headers = {"X-Thread-Id": thread} if thread else {}
    return httpx.post(f"{base}/v1/chat/completions", headers=headers, timeout=120, json={
        "model": "corecover", "route": "reason", "messages": [{"role": "user", "content": question}], **body})


def turns(base: str, thread: str) -> list[dict]:
    response = httpx.get(f"{base}/api/threads/{thread}", timeout=60)
    assert response.status_code == 200, response.text
    return response.json()["messages"]


@pytest.fixture(scope="module")
def replicas(postgres, index_dir, tmp_path_factory):
    """Two ``corecover serve`` processes started together on one fresh PostgreSQL database (both
    race to create the tables)."""
    import psycopg

    tmp = tmp_path_factory.mktemp("replicas")
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        conn.execute("CREATE DATABASE replicas")
    url = postgres.url.rsplit("/", 1)[0] + "/replicas"
    env = serve_env(tmp, checkpoint_url=url, index_dir=str(index_dir))
    ports = [free_port(), free_port()]
    logs = [open(tmp / f"replica-{i}.log", "w") for i in range(2)]  # noqa: SIM115
    procs = [subprocess.Popen([CORECOVER, "serve", "--port", str(port)], cwd=tmp, env=env,
                              stdout=log, stderr=subprocess.STDOUT) for port, log in zip(ports, logs, strict=True)]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        deadline = time.monotonic() + 300
        for proc, base, i in zip(procs, bases, range(2), strict=True):
            while True:
                assert proc.poll() is None, (tmp / f"replica-{i}.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "replica did not start"
                try:
                    if httpx.get(f"{base}/healthz").json()["status"] == "ok":
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.3)
        yield bases
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)
        for log in logs:
            log.close()


def test_a_thread_started_on_one_replica_continues_on_the_other(replicas):
    a, b = replicas
    first = ask(a, "What is 5 + 5?")
    assert first.status_code == 200, first.text
    thread = first.json()["corecover"]["thread_id"]
    second = ask(b, "What is 5 + 6?", thread)
    assert second.status_code == 200 and second.json()["corecover"]["thread_id"] == thread
    for base in (a, b):   # both replicas read the same history from the database
        history = turns(base, thread)
        assert [t["role"] for t in history] == ["user", "assistant"] * 2
        assert [t["content"] for t in history[::2]] == ["What is 5 + 5?", "What is 5 + 6?"]
        assert history[1]["content"] == first.json()["choices"][0]["message"]["content"]
        listed = httpx.get(f"{base}/api/threads").json()["data"]
        assert thread in {t["thread_id"] for t in listed}
    third = ask(a, "What is 5 + 7?", thread)        # and back: A sees B's turn
    assert third.status_code == 200 and len(turns(a, thread)) == 6


def test_database_down_is_a_503_with_retry_after_and_loses_nothing(replicas, postgres):
    a, b = replicas
    thread = ask(a, "What is 3 + 3?").json()["corecover"]["thread_id"]
    before = turns(b, thread)
    postgres.stop("immediate")
    try:
        for response in (ask(b, "What is 3 + 4?", thread), ask(b, "What is 3 + 4?", thread, stream=True),
                         httpx.get(f"{b}/api/threads", timeout=60)):
            assert response.status_code == 503, response.text
            assert int(response.headers["retry-after"]) > 0
            error = response.json()["error"]
            assert error["code"] == "store_unavailable" and f"127.0.0.1:{postgres.port}" in error["message"]
            assert postgres.password not in error["message"] and "***" in error["message"]
    finally:
        postgres.start()
    deadline = time.monotonic() + 90                  # the pool reconnects by itself, with backoff
    while httpx.get(f"{b}/api/threads", timeout=60).status_code == 503 and time.monotonic() < deadline:
        time.sleep(1)
    assert turns(b, thread) == before                 # nothing half-written
    again = ask(b, "What is 3 + 5?", thread)
    assert again.status_code == 200, again.text
    assert [t["content"] for t in turns(a, thread)[::2]] == ["What is 3 + 3?", "What is 3 + 5?"]


async def test_database_dying_mid_turn_writes_nothing_of_it(postgres, index_dir, tmp_path):
    from agent.config import Settings
    from agent.runner import AgentRunner
    from agent.store import StoreUnavailable

    runner = AgentRunner(Settings(checkpoint_url=postgres.url, index_dir=index_dir, reasoner_max_tokens=24,
                                  reasoner_temperature=0.0, checkpoint_db=tmp_path / "unused.sqlite"))
    try:
        await runner.ainvoke("What is 2 + 2?", thread_id="t-mid-turn", route="reason")
        steps = []
        with pytest.raises(StoreUnavailable) as caught:
            async for event in runner.astream("What is 2 + 5?", thread_id="t-mid-turn", route="reason"):
                if event["type"] == "step" and not steps:   # the thread was read; the turn is under way
                    await asyncio.to_thread(postgres.stop, "immediate")
                steps.append(event)
        assert postgres.password not in str(caught.value)
        assert not any(e["type"] == "result" for e in steps)   # no answer is reported for an unsaved turn
    finally:
        postgres.start()
    try:
        history = await runner.history("t-mid-turn")
        assert [t["content"] for t in history[::2]] == ["What is 2 + 2?"] and len(history) == 2
        await runner.ainvoke("What is 2 + 6?", thread_id="t-mid-turn", route="reason")
        assert len(await runner.history("t-mid-turn")) == 4
    finally:
        await runner.aclose()


def test_unreachable_database_at_start_is_one_line_with_the_password_masked(tmp_path):
    dead = free_port()
    url = f"postgresql://corecover:s3cret-pw@127.0.0.1:{dead}/threads"
    done = subprocess.run([CORECOVER, "serve", "--port", str(free_port())], cwd=tmp_path, timeout=120,
                          env=serve_env(tmp_path, checkpoint_url=url), capture_output=True, text=True)
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "Traceback" not in output and "s3cret-pw" not in output
    line = done.stderr.strip().splitlines()[-1]
    assert f"postgresql://corecover:***@127.0.0.1:{dead}/threads" in line and "unavailable" in line


def test_malformed_keys_file_stops_serve_at_once(tmp_path):
    keys = tmp_path / "keys.toml"
    keys.write_text('[users]\nalice = "short"\n')
    done = subprocess.run([CORECOVER, "serve", "--port", str(free_port())], cwd=tmp_path, timeout=120,
                          env=serve_env(tmp_path, keys_file=str(keys)), capture_output=True, text=True)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "keys.toml" in done.stderr.strip().splitlines()[-1] and "at least 16" in done.stderr
