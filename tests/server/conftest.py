"""Live servers on free loopback ports, all in one background event loop and sharing one real
AgentRunner (embedded reasoner, a small real index slice, short answers):

- ``main``: API key ``KEY``, the default limits;
- ``tight``: one completion at a time and a 4 KiB body limit (429 and 413 tests);
- ``slow``: a 10 ms request timeout (504 test);
- ``dead``: its own runner whose reasoner points at a closed port (a backend that is down);
- ``users``: users ``alice`` and ``bob`` from a keys file (plus ``api_key``, the user ``default``).

``postgres`` is a real throwaway PostgreSQL server (Debian's binaries; skipped without them).
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

KEY = "test-key-123"
USER_KEYS = {"alice": "alice-key-0123456789", "bob": "bob-key-0123456789ab"}
TOPICS = ("Mona Lisa", "Leonardo da Vinci", "Paris", "Mount Everest", "Isaac Newton")


@dataclass
class Live:
    """The base URLs of the running servers."""

    urls: dict[str, str]
    key: str = KEY
    user_keys: dict[str, str] | None = None

    def __getitem__(self, name: str) -> str:
        return self.urls[name]

    def auth(self, user: str) -> dict[str, str]:
        """The Authorization header of a user of the ``users`` server."""
        return {"Authorization": f"Bearer {(self.user_keys or {})[user]}"}


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def closed_port() -> int:
    with free_socket() as sock:
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def index_dir(tmp_path_factory) -> Path:
    """~100 real corpus passages (the topics the tests ask about plus others), saved once."""
    from retriever import Index, load_corpus

    passages = load_corpus("default")
    chosen = [p for p in passages if p.title in TOPICS]
    chosen += [p for p in passages[:80] if p.title not in TOPICS]
    path = tmp_path_factory.mktemp("server-index") / "index"
    Index.build(chosen, progress=False).save(path)
    return path


@pytest.fixture(scope="session")
def live(tmp_path_factory, index_dir) -> Any:
    """Start the servers; stop them (and close the runners) after the session."""
    import uvicorn

    from agent.config import Settings
    from agent.runner import AgentRunner
    from agent.server import create_app

    base = {"index_dir": index_dir, "reasoner_max_tokens": 24, "reasoner_temperature": 0.0,
            "checkpoint_db": tmp_path_factory.mktemp("threads") / "threads.sqlite"}
    keys_file = tmp_path_factory.mktemp("keys") / "keys.toml"
    keys_file.write_text("[users]\n" + "".join(f'{user} = "{key}"\n' for user, key in USER_KEYS.items()))
    variants = {
        "main": {"api_key": KEY, "max_concurrency": 4},
        "users": {"keys_file": keys_file, "api_key": KEY},
        "tight": {"max_concurrency": 1, "max_body_bytes": 4096},
        "slow": {"request_timeout": 0.01},
        "dead": {"reasoner": f"openai:http://127.0.0.1:{closed_port()}/v1?model=gone"},
    }
    sockets = {name: free_socket() for name in variants}
    urls = {name: f"http://127.0.0.1:{sock.getsockname()[1]}" for name, sock in sockets.items()}
    servers: dict[str, uvicorn.Server] = {}
    ready, failure = threading.Event(), []

    async def run() -> None:
        shared = AgentRunner(Settings(**base))
        dead = AgentRunner(Settings(**{**base, **variants["dead"],
                                       "checkpoint_db": base["checkpoint_db"].with_name("dead.sqlite")}))
        for name, extra in variants.items():
            settings = Settings(**base, **extra) if name != "dead" else dead.settings
            app = create_app(dead if name == "dead" else shared, settings)
            servers[name] = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        tasks = [asyncio.create_task(servers[n].serve(sockets=[sockets[n]])) for n in variants]
        while not all(s.started for s in servers.values()):
            if any(t.done() for t in tasks):
                break
            await asyncio.sleep(0.05)
        ready.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await shared.aclose()
        await dead.aclose()

    def main() -> None:
        try:
            asyncio.run(run())
        except BaseException as exc:  # surfaced to the fixture below
            failure.append(exc)
            ready.set()

    thread = threading.Thread(target=main, name="corecover-test-servers", daemon=True)
    thread.start()
    ready.wait(120)
    if failure or not all(s.started for s in servers.values()):
        raise RuntimeError(f"test servers did not start: {failure}")
    yield Live(urls, user_keys=USER_KEYS)
    for server in servers.values():
        server.should_exit = True
    thread.join(30)


@pytest.fixture
def client(live):
    """An ``openai`` SDK client on the main server (no retries: tests see every status)."""
    from openai import OpenAI

    with OpenAI(base_url=f"{live['main']}/v1", api_key=KEY, max_retries=0, timeout=120) as sdk:
        yield sdk


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server on a free loopback port for the session (stopped and deleted after)."""
    from agent.local_postgres import LocalPostgres, find_bin

    if find_bin() is None:
        pytest.skip("PostgreSQL binaries not found (apt-get install -y postgresql, or `make postgres`)")
    server = LocalPostgres(fsync=False).start()
    yield server
    server.close()
