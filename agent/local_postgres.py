"""A throwaway PostgreSQL server made from the machine's own binaries (Debian's ``postgresql``
package): ``initdb`` into a temp folder, started on a free loopback port with a password, stopped
and deleted after. For the tests, the benchmarks, and trying several replicas on one machine::

    python -m agent.local_postgres     # prints a postgresql:// URL and runs until Ctrl-C

PostgreSQL refuses to run as root: as root, every command runs as the ``postgres`` system user
(created by the Debian package) through ``runuser``.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

USER = "corecover"


def find_bin() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl`` (``$CORECOVER_PG_BIN``, else the newest Debian one)."""
    candidates = [os.environ.get("CORECOVER_PG_BIN", ""),
                  *sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)]
    return next((Path(c) for c in candidates if c and (Path(c) / "initdb").exists()), None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalPostgres:
    """One server: ``start()``, ``url``, ``stop(mode)`` (``immediate`` is a crash), ``close()``."""

    def __init__(self, bin_dir: Path | None = None, fsync: bool = True) -> None:
        self.bin = bin_dir or find_bin()
        if self.bin is None:
            raise FileNotFoundError("PostgreSQL binaries not found: apt-get install -y postgresql "
                                    "(or set CORECOVER_PG_BIN to the folder of initdb)")
        self.as_root = os.geteuid() == 0
        self.folder = Path(tempfile.mkdtemp(prefix="corecover-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.password = secrets.token_hex(12)
        self.fsync = fsync
        self._initialised = False

    @property
    def url(self) -> str:
        return f"postgresql://{USER}:{self.password}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 120) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=self.folder)
        if done.returncode != 0:
            log = (self.folder / "server.log")
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(args[:2])} failed ({done.returncode}): {done.stderr.strip()}\n{tail}")

    def start(self) -> LocalPostgres:
        """Initialise (first time) and start the server; returns when it accepts connections."""
        if not self._initialised:
            pwfile = self.folder / "pw"
            pwfile.write_text(self.password + "\n")
            if self.as_root:
                owner = pwd.getpwnam("postgres")
                for path in (self.folder, pwfile):
                    os.chown(path, owner.pw_uid, owner.pw_gid)
            self._run("initdb", "-D", str(self.data), "-U", USER, f"--pwfile={pwfile}",
                      "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8")
            pwfile.unlink()
            self._initialised = True
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data} -c max_connections=200"
                   + ("" if self.fsync else " -c fsync=off"))  # a process crash still loses nothing
        self._run("pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data),
                  "-l", str(self.folder / "server.log"), "-o", options)
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``immediate``: abort without a clean shut-down, as a crash would)."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "-w", "-D", str(self.data), "-m", mode)

    def close(self) -> None:
        """Stop the server and delete its folder."""
        try:
            self.stop("fast")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def main() -> None:
    with LocalPostgres() as server:
        print(f"CORECOVER_CHECKPOINT_URL={server.url}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
