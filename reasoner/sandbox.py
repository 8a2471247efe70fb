"""Run untrusted Python (a model's code plus its tests) contained by the kernel.

The boundary is **bubblewrap** (``bwrap``), with these layers:

- new user, pid, network, IPC, UTS and cgroup namespaces (``--unshare-all``): no network but an
  isolated loopback, no view of other processes; ``--die-with-parent``, and when the program ends
  the pid namespace ends with it, so children that ``setsid`` away die too;
- a file system of read-only binds (``/usr``, the interpreter and its virtualenv, a few ``/etc`` files),
  a read-only root, a fresh ``/proc``, a minimal read-only ``/dev``, no ``/sys``; the run's temp folder
  (``/sandbox``, its working directory) is the only writable place;
- as root, the program runs as a fresh unprivileged uid (never host root), all capabilities dropped;
  interpreter folders that uid cannot reach (a Python under ``/root``) are first bound into a private
  mount namespace by a root ``bwrap`` that only does that and drops to the uid (``setpriv``);
- a throw-away cgroup (:mod:`reasoner.cgroup`: ``pids.max`` and a memory limit) joined before anything
  runs, where the machine allows it; the program cannot leave it (root-owned, ``/sys`` absent);
- rlimits set before user code: CPU seconds, address space, file size, open files, processes;
- the wall-clock timeout, then SIGKILL to the process group and to every member of the cgroup;
- a second, Python-level layer: ``python -I``, a scrubbed environment, stdin closed, and an audit
  hook refusing writes outside the folder, sockets and (unless ``allow_processes``) new processes.

Without bwrap, :func:`run_code` refuses (:class:`SandboxUnavailable`) unless the caller passes
``unsafe=True``: then only the old layers run (an ``unshare -n`` network namespace when possible,
rlimits, the cgroup, the audit hook), which native code or ``_posixsubprocess`` can get round.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

from reasoner.cgroup import Cgroup, make_cgroup

OUTPUT_LIMIT = 64_000  # characters of stdout/stderr kept
PASSED = "passed"
INSIDE = "/sandbox"  # the run's folder as the sandboxed program sees it
UID_BASE = 1_600_000_000  # fresh sandbox uids: UID_BASE + random (bwrap takes uids below 2**31)
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "passwd", "group", "nsswitch.conf")
ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": INSIDE, "TMPDIR": INSIDE, "LANG": "C.UTF-8",
       "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", "no_proxy": "*"}
MEMORY_MARKS = ("MemoryError", "Cannot allocate memory", "[Errno 12]")

# Runs as ``python -I -S -c _BOOTSTRAP CONFIG``: -S skips site's start-up work (the virtualenv's .pth
# hooks, ~30 ms) and the config lists the site-packages folders to put on sys.path instead; only
# cheap modules are imported (socket, json and runpy would add ~35 ms to every call).
_BOOTSTRAP = r'''
import builtins, os, resource, sys
builtins.exit = builtins.quit = sys.exit  # what site would have added (-S skips it)
cfg = dict(line.split("=", 1) for line in sys.argv[1].split("\n"))
sys.path.extend(p for p in cfg["site"].split(os.pathsep) if p)
if cfg["cgroup"]:
    try:
        with open(cfg["cgroup"], "w") as f:
            f.write(str(os.getpid()))
    except OSError:
        pass
cpu, mem, fsize, nproc = (int(cfg[k]) for k in ("cpu", "mem", "fsize", "nproc"))
limits = {"CPU": (cpu, cpu + 1), "AS": (mem, mem), "FSIZE": (fsize, fsize), "NOFILE": (256, 256),
          "NPROC": (nproc, nproc), "CORE": (0, 0)}
for name, value in limits.items():
    try:
        resource.setrlimit(getattr(resource, "RLIMIT_" + name), value)
    except (ValueError, OSError):
        pass
root = os.path.realpath(cfg["root"])
processes = cfg["processes"] == "1"
AF_UNIX = 1  # socket.AF_UNIX on Linux, without importing socket
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
    elif event == "socket.__new__" and args[1] not in (-1, AF_UNIX):
        raise PermissionError("sandbox: network access is not allowed")
    elif event in ("socket.connect", "socket.bind", "socket.sendto", "socket.getaddrinfo"):
        raise PermissionError("sandbox: network access is not allowed")
    elif event in PROCESS_EVENTS and not processes:
        raise PermissionError("sandbox: starting processes is not allowed")
sys.addaudithook(guard)
del guard, cfg
main = type(sys)("__main__")  # what runpy.run_path("main.py", run_name="__main__") gives the program
main.__file__, main.__builtins__ = "main.py", __builtins__
sys.modules["__main__"], sys.argv = main, ["main.py"]
with open("main.py", "rb") as f:
    source = f.read()
exec(compile(source, "main.py", "exec"), main.__dict__)
'''
# joins the run's cgroup(s) (writing 0 moves the writer itself), then becomes the sandbox
_JOIN = 'while [ "$1" != -- ]; do echo 0 > "$1" || exit 125; shift; done; shift; exec "$@"'


class SandboxUnavailable(RuntimeError):
    """Kernel isolation (bubblewrap) is missing or broken here and the caller did not accept running unsafely."""


@dataclass
class SandboxResult:
    """How a sandboxed run ended. ``status``: passed, failed, timeout, memory, killed, error.

    ``isolation``: ``bwrap`` (kernel namespaces) or ``guards`` (Python-level only, ``unsafe=True``).
    """

    passed: bool
    status: str
    stdout: str
    stderr: str
    seconds: float
    returncode: int | None = None
    isolation: str = "bwrap"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- what bubblewrap binds -----------------------------------------------------------------
def _python_dirs(python: str) -> list[str]:
    """The folders an interpreter needs (its prefix, and its virtualenv's), outside ``/usr``."""
    if python == sys.executable:
        dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    else:
        dirs = {str(Path(python).absolute().parent.parent), str(Path(os.path.realpath(python)).parent.parent)}
    dirs = {os.path.realpath(d) if os.path.islink(d) else d for d in dirs if d and d != "/"}
    dirs = {d for d in dirs if not (d == "/usr" or d.startswith("/usr/"))}
    return sorted(d for d in dirs if not any(d.startswith(o + "/") for o in dirs))


@functools.cache
def _site_dirs(python: str) -> tuple[str, ...]:
    """The interpreter's site-packages folders (the sandbox runs it with -S and adds them itself)."""
    if python == sys.executable:
        import site

        return tuple(site.getsitepackages())
    probe = "import os, site; print(os.pathsep.join(site.getsitepackages()))"
    try:
        done = subprocess.run([python, "-I", "-c", probe], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return tuple(p for p in done.stdout.strip().split(os.pathsep) if p) if done.returncode == 0 else ()


def _blocked_ancestor(path: str) -> str | None:
    """The highest folder on ``path`` that a uid with no groups cannot enter (no ``o+x``), if any."""
    parts = Path(path).parts
    for i in range(2, len(parts) + 1):
        folder = os.path.join(*parts[:i])
        with contextlib.suppress(OSError):
            if not os.stat(folder).st_mode & stat.S_IXOTH:
                return folder
    return None


def _bridge(paths: list[str]) -> list[str]:
    """Root ``bwrap`` args that make ``paths`` reachable by an unprivileged uid: each unreachable
    ancestor is covered by a tmpfs into which only the needed folders are bound."""
    args: list[str] = []
    covered: set[str] = set()
    for path in paths:
        blocked = _blocked_ancestor(path)
        if not blocked:
            continue
        if blocked not in covered:
            covered.add(blocked)
            args += ["--tmpfs", blocked]
        rel = Path(path).relative_to(blocked).parts
        for i in range(1, len(rel)):
            args += ["--perms", "0755", "--dir", os.path.join(blocked, *rel[:i])]
        args += ["--bind", path, path]
    return args


def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for name in ETC:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    return args


def _drop_to_uid(workdir: Path, pydirs: list[str]) -> tuple[list[str], int]:
    """As root: the command prefix that runs the rest as a fresh unprivileged uid (a root bridge first
    when that uid cannot reach a folder it needs), and how many processes that prefix keeps alive."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        return [], 0
    uid = UID_BASE + random.randrange(2**24)
    os.chown(workdir, uid, uid)
    prefix, alive = [], 0
    bridge = _bridge([*pydirs, str(workdir)])
    if bridge:
        prefix += [shutil.which("bwrap") or "bwrap", "--die-with-parent", "--bind", "/", "/", *bridge,
                   "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--"]
        alive = 1
    prefix += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all", "--"]
    return prefix, alive


def _bwrap(workdir: Path, pydirs: list[str], python: str, argv: list[str]) -> list[str]:
    """bubblewrap around ``python argv``: its own namespaces, read-only binds, the folder writable."""
    cmd = [shutil.which("bwrap") or "bwrap", "--unshare-all", "--die-with-parent", "--new-session",
           "--hostname", "sandbox", *_system_binds()]
    for d in pydirs:
        cmd += ["--ro-bind", d, d]
    cmd += ["--bind", str(workdir), INSIDE, "--chdir", INSIDE, "--proc", "/proc", "--dev", "/dev",
            "--remount-ro", "/dev", "--remount-ro", "/", "--clearenv"]
    for key, value in ENV.items():
        cmd += ["--setenv", key, value]
    return [*cmd, "--", python, *argv]


def _join(cgroup: Cgroup | None) -> list[str]:
    """The prefix that moves the process into ``cgroup`` before it becomes anything else."""
    return ["/bin/sh", "-c", _JOIN, "sh", *cgroup.procs_files, "--"] if cgroup else []


@functools.cache
def kernel_isolation() -> str | None:
    """None when bubblewrap runs a sandboxed Python here, else why not (checked once per process)."""
    if not shutil.which("bwrap"):
        return "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
    workdir = Path(tempfile.mkdtemp(prefix="corecover-probe-"))
    try:
        pydirs = _python_dirs(sys.executable)
        drop, _ = _drop_to_uid(workdir, pydirs)
        cmd = [*drop, *_bwrap(workdir, pydirs, sys.executable, ["-I", "-c", "open('probe', 'w').write('ok')"])]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        if done.returncode or (workdir / "probe").read_text() != "ok":
            return f"bubblewrap fails here: {done.stderr.strip()[-300:] or done.returncode}"
        return None
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap fails here: {exc}"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def sandbox_info(unsafe: bool = False) -> dict[str, Any]:
    """What contains model-written code in this process (for results files)."""
    problem = kernel_isolation()
    return {"isolation": "guards" if problem else "bwrap", "kernel_isolation": problem is None,
            "unsafe_allowed": unsafe, "problem": problem,
            "uid": "fresh unprivileged" if os.geteuid() == 0 and shutil.which("setpriv") else "caller's"}


# -- the old, Python-level path (only with unsafe=True) ----------------------------------------
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


def _user_process_count() -> int:
    uid = os.getuid()
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                count += entry.stat().st_uid == uid
    return count


# -- running -------------------------------------------------------------------------------------
def _tail(stream: BinaryIO) -> str:
    """The last ``OUTPUT_LIMIT`` characters of a captured stream (read from its end, never whole)."""
    stream.seek(0, os.SEEK_END)
    stream.seek(max(0, stream.tell() - 4 * OUTPUT_LIMIT))
    return stream.read().decode("utf-8", "replace")[-OUTPUT_LIMIT:]


def _status(returncode: int | None, stderr: str, timed_out: bool, oom: bool) -> str:
    if timed_out or returncode == -signal.SIGXCPU:
        return "timeout"
    if oom or (returncode != 0 and any(mark in stderr for mark in MEMORY_MARKS)):
        return "memory"
    if returncode == 0:
        return PASSED
    return "killed" if returncode is not None and returncode < 0 else "failed"


def run_code(code: str, tests: str = "", timeout: float = 10, memory_mb: int = 512, *,
             max_processes: int = 16, max_file_mb: int = 16, allow_processes: bool = False,
             python: str | None = None, unsafe: bool = False) -> SandboxResult:
    """Run ``code`` followed by ``tests`` in a sandboxed Python; passed means exit status 0.

    ``timeout`` is wall-clock seconds (CPU time is limited to the same); ``memory_mb`` caps the
    address space of each process and, in the cgroup, of all of them together. The whole process
    group and cgroup are killed on timeout and after the run. Output goes to files (capped by
    ``max_file_mb``); only their last ``OUTPUT_LIMIT`` characters are kept. Raises
    :class:`SandboxUnavailable` when bubblewrap cannot run here, unless ``unsafe=True``.
    """
    problem = kernel_isolation()
    if problem and not unsafe:
        raise SandboxUnavailable(f"refusing to run untrusted code without kernel isolation: {problem} "
                                 "(or accept Python-level guards only: unsafe=True / --unsafe-sandbox)")
    python = python or sys.executable
    workdir = Path(tempfile.mkdtemp(prefix="corecover-run-"))
    outdir = Path(tempfile.mkdtemp(prefix="corecover-out-"))
    group = None
    try:
        (workdir / "main.py").write_text(f"{code}\n\n{tests}\n", encoding="utf-8")
        pydirs = _python_dirs(python)
        drop, alive = _drop_to_uid(workdir, pydirs) if not problem else ([], 0)
        # a fresh uid owns exactly bwrap, bwrap's pid 1 and the interpreter besides the program's processes
        nproc = max_processes + 3 if drop else _user_process_count() + max_processes
        if os.geteuid() == 0:
            group = make_cgroup(max_processes + (3 + alive if not problem else 1), memory_mb * 2**20)
        cfg = {"root": str(workdir) if problem else INSIDE, "cpu": max(1, int(timeout + 0.999)),
               "mem": memory_mb * 2**20, "fsize": max_file_mb * 2**20, "nproc": nproc,
               "processes": int(allow_processes), "cgroup": group.procs_files[0] if group and problem else "",
               "site": os.pathsep.join(_site_dirs(python))}
        argv = ["-I", "-S", "-c", _BOOTSTRAP, "\n".join(f"{k}={v}" for k, v in cfg.items())]
        if problem:  # unsafe=True: the old layers only
            cmd = [*_unshare_prefix(), python, *argv]
        else:
            cmd = [*_join(group), *drop, *_bwrap(workdir, pydirs, python, argv)]
        env = {"PATH": "/usr/bin:/bin", **{k: v for k, v in ENV.items() if k != "PATH"}}
        if problem:
            env.update(HOME=str(workdir), TMPDIR=str(workdir))
        # output goes to files outside the run's folder (RLIMIT_FSIZE caps them), read back through our
        # own handles: a flood costs no memory here and a stray child cannot block us on a pipe
        with open(outdir / "stdout", "w+b") as out, open(outdir / "stderr", "w+b") as err:
            start = time.perf_counter()
            proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    start_new_session=True)
            timed_out = False
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
            seconds = time.perf_counter() - start
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            if group:
                group.kill_all()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)  # SIGKILL is prompt; never block on a process that will not die
            stdout, stderr = _tail(out), _tail(err)
        returncode = proc.returncode
        if not problem and returncode is not None and 128 < returncode <= 128 + 64:
            returncode = 128 - returncode  # bwrap reports a child killed by signal N as 128 + N
        status = _status(returncode, stderr, timed_out, bool(group and group.oom_killed()))
        return SandboxResult(passed=status == PASSED, status=status, stdout=stdout, stderr=stderr,
                             seconds=seconds, returncode=returncode, isolation="guards" if problem else "bwrap")
    finally:
        if group:
            group.remove()
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(outdir, ignore_errors=True)
