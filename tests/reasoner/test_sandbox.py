"""The sandbox contains what untrusted code does: escapes, loops, fork and memory bombs, network, leftovers.

Every escape is aimed at a real folder outside the run's temp folder (world-writable, so only the
sandbox stands in the way), and where it matters the same attack is first shown to work unsandboxed.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import tracemalloc
import uuid
from pathlib import Path

import pytest

from reasoner import sandbox
from reasoner.sandbox import OUTPUT_LIMIT, SandboxResult, SandboxUnavailable, run_code

needs_bwrap = pytest.mark.skipif(sandbox.kernel_isolation() is not None,
                                 reason=f"no kernel isolation here: {sandbox.kernel_isolation()}")
# the attack table of bench/sandbox.py is the catalogue the tests hold the sandbox to
_spec = importlib.util.spec_from_file_location("bench_sandbox", Path(__file__).parents[2] / "bench" / "sandbox.py")
BENCH = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(BENCH)
FORK_EXEC = BENCH.FORK_EXEC
ATTACKS = [a[0] for a in BENCH.attacks(Path("/x"), Path("/x"), 0, "")]
ESCAPES = ATTACKS[:4]  # the red-team report's writes outside the folder


@pytest.fixture(params=["bwrap", "guards"])
def layer(request, monkeypatch) -> str:
    """Each sandbox layer on its own terms: bubblewrap, and the Python-level guards alone (unsafe)."""
    if request.param == "bwrap" and sandbox.kernel_isolation():
        pytest.skip(f"no kernel isolation here: {sandbox.kernel_isolation()}")
    if request.param == "guards":
        monkeypatch.setattr(sandbox, "kernel_isolation", lambda: "bubblewrap disabled by the test")
    return request.param


def run(code: str, layer: str = "bwrap", **kwargs) -> SandboxResult:
    result = run_code(code, unsafe=layer == "guards", **kwargs)
    assert result.isolation == layer
    return result


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A real folder outside the sandbox that anyone may write to."""
    folder = tmp_path / "outside"
    folder.mkdir()
    folder.chmod(0o777)
    return folder


def _no_survivors(marker: str) -> bool:
    return any(not BENCH.survivors(marker) for _ in range(5))  # the pid namespace ends asynchronously


@pytest.fixture
def listener():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def _marker() -> str:
    return f"{time.time_ns() % 10**6 + 10**6}.{os.getpid()}"  # a sleep time nothing else uses


# -- the attack table -------------------------------------------------------------------------------
@needs_bwrap
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if "bomb" in n and "mmap" not in n else n
                                  for n in ATTACKS])
def test_every_attack_in_the_table_is_contained(name, outside, listener):
    if name == "memory bomb across processes" and not _memory_cgroup():
        pytest.skip("capping the memory of all processes together needs a memory cgroup (root here)")
    secret = outside.parent / "secret.txt"
    secret.write_text(secret_text := f"secret-{uuid.uuid4().hex}")
    marker = _marker()
    attack = next(a for a in BENCH.attacks(outside, secret, listener, marker) if a[0] == name)
    verdict, _ = BENCH.outcome(run_code, *attack, outside, secret_text, marker)
    assert verdict.startswith("contained"), verdict


def _memory_cgroup() -> bool:
    from reasoner.cgroup import make_cgroup

    group = make_cgroup(4, 2**30) if os.geteuid() == 0 else None
    if group:
        group.remove()
    return bool(group and "memory" in group.controllers)


@pytest.mark.parametrize("name", ESCAPES)
def test_the_escapes_work_without_the_sandbox(name, tmp_path):
    """The control: each escape of the table does write outside when nothing contains it."""
    attack = next(a for a in BENCH.attacks(tmp_path, tmp_path, 0, "") if a[0] == name)
    done = subprocess.run([sys.executable, "-c", attack[1]], cwd=tmp_path, capture_output=True, timeout=30)
    assert done.returncode == 0 and list(tmp_path.iterdir()), done.stderr


@needs_bwrap
def test_the_program_runs_unprivileged_without_sys_and_with_its_own_proc():
    code = ("import os\nprint(os.path.exists('/sys/fs/cgroup'), os.getpid(), len([p for p in os.listdir('/proc') "
            "if p.isdigit()]))\nprint(open('/proc/self/status').read().split('CapEff:')[1].split()[0])\n"
            "print(os.getuid())\nopen('inside.txt', 'w').write('ok')\nprint(open('inside.txt').read())")
    result = run_code(code)
    assert result.passed, result.stderr
    lines = result.stdout.split("\n")
    exists, pid, nprocs = lines[0].split()
    assert exists == "False" and int(pid) < 10 and int(nprocs) < 10
    assert int(lines[1], 16) == 0  # no capabilities
    assert int(lines[2]) >= sandbox.UID_BASE if os.geteuid() == 0 else int(lines[2]) == os.getuid()
    assert lines[3] == "ok"


# -- processes -------------------------------------------------------------------------------------
@needs_bwrap
def test_children_die_with_the_run_on_timeout():
    marker = _marker()
    code = (f"import subprocess\nsubprocess.Popen(['setsid', 'sleep', '{marker}'])\n"
            f"subprocess.Popen(['sleep', '{marker}'], start_new_session=True)\nimport time\ntime.sleep(60)")
    result = run_code(code, timeout=2, allow_processes=True)
    assert result.status == "timeout"
    assert _no_survivors(marker)


def test_fork_bomb_is_refused_by_the_guard(layer):
    result = run("import os\nwhile True:\n    os.fork()", layer, timeout=5)
    assert not result.passed and "starting processes is not allowed" in result.stderr


@needs_bwrap
@pytest.mark.parametrize("via", ["os.fork", "_posixsubprocess"])
def test_fork_bombs_are_capped_and_leave_nothing(via):
    marker = _marker()
    spawn = ("os.fork() == 0 and (time.sleep(30), os._exit(0))" if via == "os.fork" else
             f"fork_exec([b'/bin/sleep', b'{marker}'])")
    code = (f"{FORK_EXEC}import time\nok = failed = 0\nfor _ in range(200):\n    try:\n"
            f"        {spawn}\n        ok += 1\n    except OSError:\n        failed += 1\n"
            "print(ok, failed, flush=True)\nos._exit(0)")
    start = time.perf_counter()
    result = run_code(code, timeout=10, allow_processes=via == "os.fork", max_processes=8)
    assert time.perf_counter() - start < 20
    ok, failed = map(int, result.stdout.split()[-2:])
    assert ok <= 8 and failed >= 192, result
    assert _no_survivors(marker)


# -- memory ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("code", [
    "blocks = []\nwhile True:\n    blocks.append(bytearray(50 * 2**20))",
    "import mmap\nm = mmap.mmap(-1, 2**34)",
    "import mmap\nmaps = []\nwhile True:\n    maps.append(mmap.mmap(-1, 2**26))\n    maps[-1].write(b'x' * 2**26)",
])
def test_memory_bombs_are_reported_as_memory(code, layer):
    result = run(code, layer, timeout=20, memory_mb=256)
    assert result.status == "memory" and not result.passed, result


# -- network ---------------------------------------------------------------------------------------
def test_network_is_blocked_by_the_guard(listener, layer):
    result = run(f"import socket\nsocket.create_connection(('127.0.0.1', {listener}), timeout=2)", layer)
    assert not result.passed and "network access is not allowed" in result.stderr


@needs_bwrap
def test_network_namespace_blocks_unguarded_children(listener):
    inner = (f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {listener}), timeout=2)\n    print('CONNECTED')\n"
             f"except OSError as e:\n    print('blocked', e)\n"
             f"try:\n    socket.create_connection(('1.1.1.1', 53), timeout=2)\n    print('CONNECTED')\n"
             f"except OSError as e:\n    print('blocked', e)")
    code = f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {inner!r}], check=True)"
    result = run_code(code, timeout=15, allow_processes=True)
    assert result.passed and result.stdout.count("blocked") == 2 and "CONNECTED" not in result.stdout, result


# -- the Python-level layer and the basics ---------------------------------------------------------
def test_passing_and_failing_code(layer):
    ok = run("def f(x):\n    return x + 1\n\nassert f(1) == 2\nprint('fine')", layer)
    assert ok.passed and ok.status == "passed" and ok.stdout.strip() == "fine" and ok.returncode == 0
    bad = run_code("def f(x):\n    return x", "assert f(1) == 2", unsafe=layer == "guards")
    assert not bad.passed and bad.status == "failed" and "AssertionError" in bad.stderr
    killed = run("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", layer)
    assert killed.status == "killed" and killed.returncode == -9


def test_the_program_sees_installed_packages_and_runs_as_main(layer):
    """The bootstrap skips site's start-up (-S) but puts the interpreter's site-packages on sys.path."""
    code = ("import numpy, pickle, sys\n"
            "class Point:\n    pass\n"
            "assert pickle.loads(pickle.dumps(Point())).__class__.__name__ == 'Point'\n"
            "print(__name__, __file__, sys.argv, numpy.add(2, 3))")
    result = run(code, layer)
    assert result.passed, result.stderr[-500:]
    assert result.stdout.split() == ["__main__", "main.py", "['main.py']", "5"]
    assert run("exit(0)", layer).passed and run("quit(3)", layer).returncode == 3  # site's builtins, without site
    traceback = run("def f():\n    raise ValueError('boom')\n\nf()", layer)
    assert 'File "main.py", line 2, in f' in traceback.stderr and "ValueError: boom" in traceback.stderr


def test_infinite_loop_is_killed_on_time(layer):
    start = time.perf_counter()
    result = run("while True:\n    pass", layer, timeout=2)
    assert result.status == "timeout" and not result.passed
    assert time.perf_counter() - start < 10


def test_guard_blocks_writes_outside_the_folder(outside, layer):
    target = outside / "escaped.txt"
    for code in (f"open({str(target)!r}, 'w').write('x')",
                 f"import os\nos.open({str(target)!r}, os.O_WRONLY | os.O_CREAT)",
                 f"import pathlib\npathlib.Path({str(target)!r}).write_text('x')",
                 f"import os\nos.remove({str(Path(__file__))!r})",
                 "import os\nos.symlink('/etc', 'etc')\nopen('etc/corecover-x', 'w')"):
        result = run(code, layer)
        assert not result.passed and "not allowed" in result.stderr, code
    assert not target.exists() and Path(__file__).exists()
    inside = run("open('notes.txt', 'w').write('ok')\nprint(open('notes.txt').read())", layer)
    assert inside.passed and inside.stdout.strip() == "ok"


def test_file_size_limit(layer):
    result = run("open('big', 'wb').write(b'x' * (8 * 2**20))", layer, max_file_mb=1)
    assert not result.passed


@needs_bwrap
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


@needs_bwrap
def test_output_keeps_the_tail():
    result = run_code("for i in range(200_000):\n    print(i)\nprint('END')")
    assert result.passed and len(result.stdout) <= OUTPUT_LIMIT and result.stdout.split()[-2:] == ["199999", "END"]


def test_environment_is_scrubbed(monkeypatch, layer):
    monkeypatch.setenv("CORECOVER_SECRET_FOR_TEST", "hunter2")
    result = run("import os\nprint(os.environ.get('CORECOVER_SECRET_FOR_TEST'))\nimport sys\nprint(sys.flags.isolated)",
                 layer)
    assert result.stdout.split() == ["None", "1"]


# -- without bubblewrap ----------------------------------------------------------------------------
def test_without_kernel_isolation_it_refuses_unless_told_unsafe(monkeypatch):
    monkeypatch.setattr(sandbox, "kernel_isolation", lambda: "bubblewrap (bwrap) is not installed")
    with pytest.raises(SandboxUnavailable, match="unsafe"):
        run_code("print(1)")
    result = run_code("print(1)", unsafe=True)
    assert isinstance(result, SandboxResult) and result.passed and result.isolation == "guards"
    assert sandbox.sandbox_info(unsafe=True)["isolation"] == "guards"
