"""The sandbox contains what untrusted code does: loops, fork bombs, memory bombs, network, writes."""

from __future__ import annotations

import os
import socket
import sys
import time
import tracemalloc
from pathlib import Path

from eval.sandbox import OUTPUT_LIMIT, _unshare_prefix, run_code


def test_passing_and_failing_code():
    ok = run_code("def f(x):\n    return x + 1", "assert f(1) == 2\nprint('fine')")
    assert ok.passed and ok.status == "passed" and ok.stdout.strip() == "fine"
    bad = run_code("def f(x):\n    return x", "assert f(1) == 2")
    assert not bad.passed and bad.status == "failed" and "AssertionError" in bad.stderr


def test_infinite_loop_is_killed_on_time():
    start = time.perf_counter()
    result = run_code("while True:\n    pass", timeout=2)
    assert result.status == "timeout" and not result.passed
    assert time.perf_counter() - start < 10


def test_sleeping_children_die_with_their_process_group():
    code = ("import subprocess, sys\n"
            "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
            "print(p.pid, flush=True)\nimport time\ntime.sleep(60)")
    result = run_code(code, timeout=2, allow_processes=True)
    assert result.status == "timeout"
    child = int(result.stdout.split()[0])
    time.sleep(0.2)
    assert not Path(f"/proc/{child}").exists() or Path(f"/proc/{child}/stat").read_text().split()[2] == "Z"


def test_memory_bomb_hits_the_limit():
    result = run_code("blocks = []\nwhile True:\n    blocks.append(bytearray(50 * 2**20))", timeout=20, memory_mb=256)
    assert result.status == "memory" and not result.passed


def test_fork_bomb_is_refused_by_the_guard():
    result = run_code("import os\nwhile True:\n    os.fork()", timeout=5)
    assert not result.passed and "starting processes is not allowed" in result.stderr


def test_fork_bomb_is_contained_by_kernel_limits_when_processes_are_allowed():
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    start = time.perf_counter()
    result = run_code(code, timeout=3, allow_processes=True, max_processes=16)
    assert result.status in ("timeout", "killed") and not result.passed
    assert time.perf_counter() - start < 20
    time.sleep(0.5)
    leftovers = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline(p).count("os.fork()")]
    assert not leftovers


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def test_network_is_blocked_by_the_guard():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        result = run_code(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)")
    assert not result.passed and "network access is not allowed" in result.stderr


def test_network_namespace_blocks_even_unguarded_child_processes():
    if not _unshare_prefix():
        import pytest

        pytest.skip("no network namespace available here (unshare -n / -rn failed): the socket guard remains")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        inner = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2)"
        code = f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {inner!r}], check=True)"
        result = run_code(code, timeout=10, allow_processes=True)
    assert not result.passed and ("Network is unreachable" in result.stderr or "refused" in result.stderr)


def test_writes_outside_the_temp_dir_are_blocked(tmp_path):
    target = tmp_path / "escaped.txt"
    for code in (f"open({str(target)!r}, 'w').write('x')",
                 f"import os\nos.open({str(target)!r}, os.O_WRONLY | os.O_CREAT)",
                 f"import pathlib\npathlib.Path({str(target)!r}).write_text('x')",
                 f"import os\nos.remove({str(Path(__file__))!r})",
                 "import os\nos.symlink('/etc', 'etc')\nopen('etc/corecover-x', 'w')"):
        result = run_code(code)
        assert not result.passed and "not allowed" in result.stderr, code
    assert not target.exists() and Path(__file__).exists()
    inside = run_code("open('notes.txt', 'w').write('ok')\nprint(open('notes.txt').read())")
    assert inside.passed and inside.stdout.strip() == "ok"


def test_file_size_limit():
    result = run_code("open('big', 'wb').write(b'x' * (8 * 2**20))", max_file_mb=1)
    assert not result.passed


def test_output_flood_is_capped_on_disk_and_costs_no_memory():
    flood = "while True:\n    try:\n        print('x' * 10**6)\n    except OSError:\n        pass"
    tracemalloc.start()
    try:
        start = time.perf_counter()
        result = run_code(flood, timeout=3, max_file_mb=8)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.status == "timeout" and elapsed < 3 + 6
    assert len(result.stdout) <= OUTPUT_LIMIT and len(result.stderr) <= OUTPUT_LIMIT
    assert peak < 4 * 2**20  # the parent never held the flood


def test_output_keeps_the_tail():
    result = run_code("for i in range(200_000):\n    print(i)\nprint('END')")
    assert result.passed and len(result.stdout) <= OUTPUT_LIMIT and result.stdout.split()[-2:] == ["199999", "END"]


def test_environment_is_scrubbed():
    os.environ["CORECOVER_SECRET_FOR_TEST"] = "hunter2"
    try:
        result = run_code("import os\nprint(os.environ.get('CORECOVER_SECRET_FOR_TEST'))\nimport sys\nprint(sys.flags.isolated)")
    finally:
        del os.environ["CORECOVER_SECRET_FOR_TEST"]
    assert result.stdout.split() == ["None", "1"]
    assert sys.executable
