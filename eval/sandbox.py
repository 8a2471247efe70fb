"""Run untrusted Python (a model's code plus its tests) in a separate, limited process.

Layers, each best effort, strongest first:

- its own session and process group, killed as a whole (SIGKILL) on timeout and after exit;
- no network: a fresh network namespace (``unshare -n``, or ``unshare -rn`` as a normal user)
  when the kernel allows it, and always a guard that refuses non-Unix sockets;
- resource limits set in the child before user code runs: CPU seconds, address space
  (memory), file size, open files and processes (``RLIMIT_NPROC``; root is exempt from it,
  so as root the child also joins a fresh ``pids`` cgroup when one can be made);
- an audit hook installed before user code that refuses writes, deletes, renames and
  permission changes outside the run's own temp folder (its working directory), and
  refuses starting processes (fork, exec, subprocess) unless ``allow_processes=True``;
- ``python -I`` (isolated mode), a scrubbed environment, stdin closed.

An audit hook is not a security boundary against native code (ctypes); run untrusted code
under a container or VM as well when it matters.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

OUTPUT_LIMIT = 64_000  # characters of stdout/stderr kept
PASSED = "passed"

_BOOTSTRAP = r'''
import os, resource, socket, sys
import json
cfg = json.loads(sys.argv[1])
if cfg["cgroup"]:
    try:
        with open(cfg["cgroup"], "w") as f:
            f.write(str(os.getpid()))
    except OSError:
        pass
limits = {"CPU": (cfg["cpu"], cfg["cpu"] + 1), "AS": (cfg["mem"],) * 2, "FSIZE": (cfg["fsize"],) * 2,
          "NOFILE": (256, 256), "NPROC": (cfg["nproc"],) * 2, "CORE": (0, 0)}
for name, value in limits.items():
    try:
        resource.setrlimit(getattr(resource, "RLIMIT_" + name), value)
    except (ValueError, OSError):
        pass
root = os.path.realpath(cfg["root"])
WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
PATH_EVENTS = {"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.symlink", "os.link", "os.chmod",
               "os.chown", "os.truncate", "os.utime", "shutil.rmtree", "os.chflags", "os.setxattr",
               "os.removexattr", "shutil.chown", "shutil.copytree", "shutil.move", "os.mkfifo", "os.mknod"}
PROCESS_EVENTS = {"os.fork", "os.forkpty", "os.exec", "os.posix_spawn", "os.spawn", "os.system",
                  "subprocess.Popen", "pty.spawn", "os.startfile"}
def inside(path):
    if isinstance(path, int):
        return True
    try:
        real = os.path.realpath(os.fsdecode(path))
    except (TypeError, ValueError):
        return False
    return real == root or real.startswith(root + os.sep) or real == "/dev/null"
def guard(event, args):
    if event == "open":
        path, mode, flags = args
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool((flags or 0) & WRITE)
        if writing and not inside(path):
            raise PermissionError("sandbox: writing outside the sandbox folder is not allowed")
    elif event in PATH_EVENTS:
        for arg in args[:2]:
            if isinstance(arg, (str, bytes, os.PathLike)) and not inside(arg):
                raise PermissionError("sandbox: changing files outside the sandbox folder is not allowed")
    elif event == "socket.__new__" and args[1] not in (-1, socket.AF_UNIX):
        raise PermissionError("sandbox: network access is not allowed")
    elif event in ("socket.connect", "socket.bind", "socket.sendto", "socket.getaddrinfo"):
        raise PermissionError("sandbox: network access is not allowed")
    elif event in PROCESS_EVENTS and not cfg["processes"]:
        raise PermissionError("sandbox: starting processes is not allowed")
sys.addaudithook(guard)
del guard
import runpy
sys.argv = ["main.py"]
runpy.run_path("main.py", run_name="__main__")
'''


@dataclass
class SandboxResult:
    """How a sandboxed run ended. ``status``: passed, failed, timeout, memory, killed, error."""

    passed: bool
    status: str
    stdout: str
    stderr: str
    seconds: float
    returncode: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@functools.cache
def _unshare_prefix() -> tuple[str, ...]:
    """The command prefix that gives the child an empty network namespace, or () when none works."""
    unshare = shutil.which("unshare")
    if not unshare:
        return ()
    for flags in ("-n", "-rn"):
        try:
            ok = subprocess.run([unshare, flags, "true"], capture_output=True, timeout=10).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        if ok:
            return (unshare, flags)
    return ()


def _pids_cgroup(limit: int) -> Path | None:
    """A fresh cgroup limiting the number of processes (root only; cgroup v1 or v2), or None."""
    if os.geteuid() != 0:
        return None
    for parent in (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup")):
        if not (parent / "cgroup.procs").is_file():
            continue
        try:
            group = Path(tempfile.mkdtemp(prefix="corecover-sandbox-", dir=parent))
        except OSError:
            continue
        try:
            (group / "pids.max").write_text(str(limit))
            return group
        except OSError:
            _remove_cgroup(group)
    return None


def _remove_cgroup(group: Path | None) -> None:
    if group is None:
        return
    for _ in range(50):
        try:
            pids = [int(p) for p in (group / "cgroup.procs").read_text().split()]
        except OSError:
            pids = []
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        try:
            group.rmdir()
            return
        except OSError:
            time.sleep(0.02)


def _user_process_count() -> int:
    uid = os.getuid()
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                count += entry.stat().st_uid == uid
    return count


def _kill_group(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)


def _tail(stream: BinaryIO) -> str:
    """The last ``OUTPUT_LIMIT`` characters of a captured stream (read from its end, never whole)."""
    stream.seek(0, os.SEEK_END)
    stream.seek(max(0, stream.tell() - 4 * OUTPUT_LIMIT))
    return stream.read().decode("utf-8", "replace")[-OUTPUT_LIMIT:]


def _status(returncode: int | None, stderr: str, timed_out: bool) -> str:
    if timed_out or returncode == -signal.SIGXCPU:
        return "timeout"
    if "MemoryError" in stderr:
        return "memory"
    if returncode == 0:
        return PASSED
    return "killed" if returncode is not None and returncode < 0 else "failed"


def run_code(code: str, tests: str = "", timeout: float = 10, memory_mb: int = 512, *,
             max_processes: int = 16, max_file_mb: int = 16, allow_processes: bool = False,
             python: str | None = None) -> SandboxResult:
    """Run ``code`` followed by ``tests`` in a sandboxed Python; passed means exit status 0.

    ``timeout`` is wall-clock seconds (CPU time is limited to the same); ``memory_mb`` caps the
    address space. The whole process group is killed on timeout and after the run. Output goes to
    files in the run's folder (capped by ``max_file_mb``); only their last ``OUTPUT_LIMIT``
    characters are kept.
    """
    workdir = Path(tempfile.mkdtemp(prefix="corecover-run-"))
    group = _pids_cgroup(max_processes)
    try:
        (workdir / "main.py").write_text(f"{code}\n\n{tests}\n", encoding="utf-8")
        nproc = max_processes if os.geteuid() == 0 else _user_process_count() + max_processes
        cfg = {"root": str(workdir), "cpu": max(1, int(timeout + 0.999)), "mem": memory_mb * 2**20,
               "fsize": max_file_mb * 2**20, "nproc": nproc, "processes": allow_processes,
               "cgroup": str(group / "cgroup.procs") if group else None}
        env = {"PATH": "/usr/bin:/bin", "HOME": str(workdir), "TMPDIR": str(workdir), "LANG": "C.UTF-8",
               "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", "no_proxy": "*"}
        cmd = [*_unshare_prefix(), python or sys.executable, "-I", "-c", _BOOTSTRAP, json.dumps(cfg)]
        # output goes to files (RLIMIT_FSIZE caps them) read back through our own handles, so a flood
        # of output costs no memory here and a child that escaped the group cannot block us on a pipe
        with open(workdir / ".stdout", "w+b") as out, open(workdir / ".stderr", "w+b") as err:
            start = time.perf_counter()
            proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    start_new_session=True)
            timed_out = False
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
            seconds = time.perf_counter() - start
            _kill_group(proc.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)  # SIGKILL is prompt; never block on a process that will not die
            stdout, stderr = _tail(out), _tail(err)
        status = _status(proc.returncode, stderr, timed_out)
        return SandboxResult(passed=status == PASSED, status=status, stdout=stdout, stderr=stderr,
                             seconds=seconds, returncode=proc.returncode)
    finally:
        _remove_cgroup(group)
        shutil.rmtree(workdir, ignore_errors=True)
