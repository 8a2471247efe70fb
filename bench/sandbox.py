"""Sandbox containment and cost: each attack against today's bubblewrap sandbox and against the
previous, Python-guards-only sandbox (``eval/sandbox.py`` as git last had it), then the per-call
overhead of both on a trivial program, interleaved in one run.

    flock /tmp/corecover-cpu.lock .venv/bin/python bench/sandbox.py [--calls 40]

An attack is *contained* when no file appears in a real, world-writable folder outside the run's
folder, no process it started outlives the call, nothing secret comes back, and the status says
what happened. Target: every row contained; added p50 per call ≤ 50 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from reasoner import sandbox

ROOT = Path(__file__).resolve().parents[1]
VISIBLE = (f"{sys.prefix}/corecover-escape-{os.getpid()}", f"/usr/corecover-escape-{os.getpid()}")  # bound read-only
FORK_EXEC = ("import _posixsubprocess, os\n"
             "def fork_exec(argv):\n"
             "    r, w = os.pipe()\n"
             "    try:\n"
             "        return _posixsubprocess.fork_exec(argv, argv[:1], True, (), None, None, -1, -1, -1, -1, -1, -1,\n"
             "                                          r, w, False, False, -1, None, None, None, -1, None, False)\n"
             "    finally:\n"
             "        os.close(r)\n"
             "        os.close(w)\n")


def old_sandbox(rev: str | None) -> Any:
    """``eval/sandbox.py`` as it was before it moved to ``reasoner/sandbox.py`` (from git)."""
    if rev is None:  # the parent of the last commit that touched it: the one that moved it away
        rev = subprocess.run(["git", "rev-list", "-1", "HEAD", "--", "eval/sandbox.py"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.strip() + "^"
        if not (ROOT / "eval" / "sandbox.py").exists() and subprocess.run(
                ["git", "cat-file", "-e", "HEAD:eval/sandbox.py"], cwd=ROOT, capture_output=True).returncode == 0:
            rev = "HEAD"  # moved in the working tree, not yet committed
    source = subprocess.run(["git", "show", f"{rev}:eval/sandbox.py"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout
    path = Path(tempfile.mkdtemp(prefix="corecover-bench-")) / "old_sandbox.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("old_sandbox", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_sandbox"] = module
    spec.loader.exec_module(module)
    return module


def survivors(marker: str) -> list[int]:
    """Pids of processes (not zombies) whose command line holds ``marker``, after a moment to die."""
    time.sleep(0.3)
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and proc.name != str(os.getpid()):
            try:
                alive = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
                if alive and marker in (proc / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def attacks(out: Path, secret: Path, port: int, marker: str) -> list[tuple[str, str, dict[str, Any], str]]:
    """``(name, code, run_code options, expected status or "")``."""
    d = str(out)
    sleeper = f"exec setsid sleep {marker}"
    return [
        ("write via dir_fd os.open", f"import os\nfd = os.open({d!r}, os.O_RDONLY)\n"
         "os.close(os.open('a.txt', os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))", {}, ""),
        ("write via sqlite3.connect", f"import sqlite3\nsqlite3.connect({d + '/b.sqlite'!r}).execute('create table t(x)')",
         {}, ""),
        ("shell via _posixsubprocess.fork_exec", f"{FORK_EXEC}os.waitpid(fork_exec([b'/bin/sh', b'-c', b'echo x > {d}/c']), 0)",
         {}, ""),
        ("shell via ctypes libc.system", f"import ctypes\nctypes.CDLL(None).system(b'echo x > {d}/d')", {}, ""),
        ("write into visible read-only folders", f"import ctypes\nctypes.CDLL(None).system(b'touch {VISIBLE[0]} {VISIBLE[1]}')",
         {}, ""),
        ("read a host file", f"print(open({str(secret)!r}).read())", {}, "failed"),
        ("leave the cgroup, then outlive the run",
         f"{FORK_EXEC}fork_exec([b'/bin/sh', b'-c', b'for f in /sys/fs/cgroup/pids/cgroup.procs /sys/fs/cgroup/cgroup.procs; "
         f"do echo $$ > $f; done; {sleeper}'])\nimport time\ntime.sleep(0.3)", {}, ""),
        ("setsid child outlives the run", f"import subprocess\nsubprocess.Popen(['setsid', 'sleep', '{marker}'])",
         {"allow_processes": True}, ""),
        ("fork bomb (processes allowed)", "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
         {"allow_processes": True, "timeout": 3}, "timeout"),
        ("fork bomb via fork_exec (guard bypassed)",
         f"{FORK_EXEC}while True:\n    try:\n        fork_exec([b'/bin/sleep', b'{marker}'])\n    except OSError:\n        pass",
         {"timeout": 3}, "timeout"),
        ("memory bomb", "blocks = []\nwhile True:\n    blocks.append(bytearray(50 * 2**20))", {"memory_mb": 256}, "memory"),
        ("mmap out of memory", "import mmap\nm = mmap.mmap(-1, 2**34)", {"memory_mb": 256}, "memory"),
        ("memory bomb across processes",
         "import os, time\nfor _ in range(4):\n    if os.fork() == 0:\n        block = b'x' * (150 * 2**20)\n"
         "        time.sleep(3)\n        os._exit(0)\nfor _ in range(4):\n    os.wait()",
         {"memory_mb": 256, "allow_processes": True, "timeout": 20}, "memory"),
        ("socket to a host port (from a child)",
         f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', \"import socket; "
         f"socket.create_connection(('127.0.0.1', {port}), timeout=2); print('CONNECTED')\"])",
         {"allow_processes": True}, ""),
    ]


def outcome(run: Callable[..., Any], name: str, code: str, opts: dict[str, Any], expect: str, out: Path,
            secret_text: str, marker: str) -> tuple[str, float]:
    for f in out.iterdir():
        f.unlink()
    start = time.perf_counter()
    try:
        result = run(code, **{"timeout": 10, **opts})
    except Exception as exc:  # an old sandbox may crash on an attack
        return f"error: {type(exc).__name__}", time.perf_counter() - start
    seconds = time.perf_counter() - start
    leaks = []
    if list(out.iterdir()):
        leaks.append("file written outside")
    for path in map(Path, VISIBLE):
        if path.exists():
            path.unlink()
            leaks.append(f"{path} written")
    if secret_text in result.stdout:
        leaks.append("host file read")
    if "CONNECTED" in result.stdout:
        leaks.append("network reached")
    alive = survivors(marker)
    if alive:
        leaks.append(f"{len(alive)} processes outlived it")
        for pid in alive:  # the attack's own leftovers, by pid
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    if expect and result.status != expect:
        leaks.append(f"status {result.status}, not {expect}")
    return ("ESCAPED: " + "; ".join(leaks) if leaks else f"contained ({result.status})"), seconds


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=40, help="calls per sandbox for the overhead figures")
    parser.add_argument("--baseline-rev", help="git revision holding the old eval/sandbox.py")
    args = parser.parse_args()
    console = Console(width=150)
    problem = sandbox.kernel_isolation()
    if problem:
        raise SystemExit(f"error: {problem}")
    old = old_sandbox(args.baseline_rev)
    info = sandbox.sandbox_info()
    console.print(f"bwrap: {shutil.which('bwrap')}; uid: {info['uid']}; euid {os.geteuid()}; python {sys.executable}")

    out = Path(tempfile.mkdtemp(prefix="corecover-outside-"))
    out.chmod(0o777)
    secret = out.parent / f"corecover-secret-{os.getpid()}.txt"
    secret_text = f"secret-{time.time_ns()}"
    secret.write_text(secret_text)
    marker = f"{time.time_ns() % 10**6 + 10**6}.125"
    table = Table(title="attack → outcome → seconds")
    for col in ("attack", "bubblewrap sandbox (new)", "s", "python-guards sandbox (old)", "s "):
        table.add_column(col)
    rows_ok = 0
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        listed = attacks(out, secret, server.getsockname()[1], marker)
        for name, code, opts, expect in listed:
            new_outcome, new_s = outcome(sandbox.run_code, name, code, opts, expect, out, secret_text, marker)
            old_outcome, old_s = outcome(old.run_code, name, code, opts, expect, out, secret_text, marker)
            rows_ok += new_outcome.startswith("contained")
            table.add_row(name, new_outcome, f"{new_s:.2f}", old_outcome, f"{old_s:.2f}")
    console.print(table)
    console.print(f"contained by the new sandbox: {rows_ok}/{len(listed)}")
    secret.unlink()
    shutil.rmtree(out, ignore_errors=True)

    program = ("def add(a, b):\n    return a + b", "assert add(2, 3) == 5")
    runs: dict[str, Callable[[], Any]] = {
        "python -I -c pass (floor)": lambda: subprocess.run([sys.executable, "-I", "-c", "pass"], check=True),
        "old sandbox (python guards)": lambda: old.run_code(*program),
        "new sandbox (bubblewrap)": lambda: sandbox.run_code(*program),
    }
    times: dict[str, list[float]] = {k: [] for k in runs}
    for fn in runs.values():  # warm-up
        fn()
    for _ in range(args.calls):  # interleaved, so load changes hit all three alike
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    table = Table(title=f"per-call wall time, {args.calls} calls each, interleaved")
    for col in ("sandbox", "p50 ms", "p90 ms"):
        table.add_column(col)
    for name, values in times.items():
        table.add_row(name, f"{statistics.median(values) * 1e3:.1f}", f"{percentile(values, 90) * 1e3:.1f}")
    console.print(table)
    added = statistics.median(times["new sandbox (bubblewrap)"]) - statistics.median(times["old sandbox (python guards)"])
    console.print(f"added p50 per call: {added * 1e3:.1f} ms (target ≤ 50 ms)")


if __name__ == "__main__":
    main()
