"""A throw-away cgroup for one sandboxed run: a process cap and a memory cap the run cannot leave.

Made under the caller's own cgroup (cgroup v1 ``pids`` and ``memory`` hierarchies, or a cgroup v2
subtree with those controllers delegated), owned by root: the sandboxed user can neither write a
``cgroup.procs`` file nor see ``/sys``. Needs root (or a delegated v2 subtree); where the machine
allows none, :func:`make_cgroup` returns ``None`` and the run relies on rlimits and the pid namespace.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
# controller -> (v1 limit file, v2 limit file)
LIMITS = {"pids": ("pids.max", "pids.max"), "memory": ("memory.limit_in_bytes", "memory.max")}
SWAP = {"memory": ("memory.memsw.limit_in_bytes", "memory.swap.max")}


def _own_paths() -> dict[str, str]:
    """This process's cgroup path per v1 controller, and under ``""`` its v2 path."""
    paths = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for name in controllers.split(","):
                paths[name] = path
    return paths


def _parents() -> list[tuple[str, int, Path]]:
    """``(controller, version, folder to make the group in)`` for each controller found."""
    own = _own_paths()
    found = []
    for name in LIMITS:
        v1 = ROOT / name
        if name in own and (v1 / "cgroup.procs").is_file():
            found.append((name, 0, v1 / own[name].lstrip("/")))
        elif "" in own and name in _read(ROOT / "cgroup.controllers").split():
            found.append((name, 1, ROOT / own[""].lstrip("/")))
    return found


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


@dataclass
class Cgroup:
    """The folders of one run's cgroup (one per v1 hierarchy, or one v2 folder)."""

    dirs: list[Path] = field(default_factory=list)
    controllers: list[str] = field(default_factory=list)

    @property
    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in dict.fromkeys(self.dirs)]

    def oom_killed(self) -> bool:
        """Did the kernel kill a process of this group for want of memory?"""
        for d in self.dirs:
            for name in ("memory.oom_control", "memory.events"):
                for line in _read(d / name).splitlines():
                    key, _, value = line.partition(" ")
                    if key == "oom_kill" and value.strip() not in ("", "0"):
                        return True
        return False

    def pids(self) -> list[int]:
        found: set[int] = set()
        for f in self.procs_files:
            found.update(int(p) for p in _read(Path(f)).split())
        return sorted(found)

    def kill_all(self) -> None:
        """SIGKILL every member until none is left (``pids.max`` keeps a fork bomb from outrunning this)."""
        for _ in range(200):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.005)

    def remove(self) -> None:
        self.kill_all()
        for d in reversed(list(dict.fromkeys(self.dirs))):
            for _ in range(100):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # busy until the last member is reaped
                    time.sleep(0.01)


def make_cgroup(max_processes: int, memory_bytes: int) -> Cgroup | None:
    """A fresh cgroup with ``pids.max`` and a memory limit (no swap beyond it), or None where none can be made."""
    group = Cgroup()
    for name, version, parent in _parents():
        existing = next((d for d in group.dirs if d.parent == parent), None) if version else None
        try:
            folder = existing or Path(tempfile.mkdtemp(prefix="corecover-sandbox-", dir=parent))
        except OSError:
            continue
        if not existing:
            group.dirs.append(folder)
        limit = str(max_processes if name == "pids" else memory_bytes)
        try:
            (folder / LIMITS[name][version]).write_text(limit)
        except OSError:
            continue
        if name in SWAP:
            with contextlib.suppress(OSError):
                (folder / SWAP[name][version]).write_text(limit if version == 0 else "0")
        group.controllers.append(name)
    if not group.controllers:
        group.remove()
        return None
    return group
