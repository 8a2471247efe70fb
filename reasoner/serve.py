"""Start a real OpenAI-compatible server for the reasoner.

``vllm serve`` with the VibeThinker settings when vLLM is installed and a GPU is present;
otherwise ``python -m llama_cpp.server`` on the embedded GGUF (or any given ``.gguf``), through
:mod:`reasoner.llamacpp_server`, which evaluates every request's prompt afresh.
:func:`running_server` is the reusable form (tests, benchmarks): it starts the server on a
free loopback port, waits until ``GET /v1/models`` answers, yields the base URL and stops
the server afterwards.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from reasoner.base import BackendError
from reasoner.presets import PRESETS, embedded_gguf, preset_for

ENGINES = ("auto", "vllm", "llamacpp")


@dataclass(frozen=True)
class ServerPlan:
    """What to run: the command line, the engine, the model name the server will list, and
    environment variables for the child (the API key travels there, never on the command line)."""

    command: list[str]
    engine: str
    model: str
    env: dict[str, str] = field(default_factory=dict, repr=False)

    def describe(self) -> str:
        """The command line for logs, with any secret masked."""
        secret = " (API key: ****)" if self.env else ""
        return " ".join(self.command) + secret


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def ensure_port_free(host: str, port: int) -> None:
    """Raise a clear BackendError when something already listens on ``host:port``."""
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            raise BackendError(f"port {port} on {host} is in use: pick another with --port "
                               "(or stop the server that holds it)") from None


def gpu_available() -> bool:
    """True when vLLM is importable and torch sees a CUDA device."""
    if importlib.util.find_spec("vllm") is None:
        return False
    import torch

    return torch.cuda.is_available()


def plan_server(model: str | None = None, *, host: str = "127.0.0.1", port: int = 8000,
                api_key: str | None = None, engine: str = "auto", n_ctx: int = 4096,
                n_threads: int | None = None) -> ServerPlan:
    """The server command for ``model`` (``None``: VibeThinker-3B on vLLM, else the embedded GGUF)."""
    if engine not in ENGINES:
        raise BackendError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
    is_gguf = model is not None and (model == "embedded" or model.endswith(".gguf"))
    if engine == "auto":
        engine = "vllm" if not is_gguf and gpu_available() else "llamacpp"
    if engine == "vllm":
        return _vllm_plan(model or PRESETS["vibethinker-3b"].name, host, port, api_key)
    if model is not None and not is_gguf:
        raise BackendError(f"llama.cpp serves .gguf files, not {model!r}: pass a .gguf path, or install "
                           "vLLM on a GPU machine (`pip install vllm`) to serve a Hugging Face model")
    return _llamacpp_plan(model, host, port, api_key, n_ctx, n_threads)


def _vllm_plan(model: str, host: str, port: int, api_key: str | None) -> ServerPlan:
    chat = preset_for(model).chat
    sampling = {"temperature": chat.temperature, "top_p": chat.top_p, "top_k": chat.top_k,
                "max_new_tokens": chat.max_tokens}
    command = ["vllm", "serve", model, "--host", host, "--port", str(port),
               "--override-generation-config", json.dumps(sampling)]
    return ServerPlan(command, "vllm", model, {"VLLM_API_KEY": api_key} if api_key else {})


def _llamacpp_plan(model: str | None, host: str, port: int, api_key: str | None, n_ctx: int,
                   n_threads: int | None) -> ServerPlan:
    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("uvicorn") is None:
        raise BackendError("llama-cpp-python's server is not installed: run "
                           "`pip install 'llama-cpp-python[server]'`")
    from reasoner.llamacpp import default_threads

    path = embedded_gguf() if model in (None, "embedded") else Path(model)
    if not path.is_file():
        raise BackendError(f"model file not found: {path} (give a .gguf path, or leave --model out "
                           "for the embedded model)")
    # llama_cpp.server, resetting the KV state per request so answers do not depend on earlier ones
    command = [sys.executable, "-m", "reasoner.llamacpp_server", "--model", str(path), "--model_alias", path.stem,
               "--verbose", "False",
               "--host", host, "--port", str(port), "--n_ctx", str(n_ctx),
               "--n_threads", str(n_threads or default_threads()),
               "--n_threads_batch", str(n_threads or default_threads())]
    # llama_cpp.server reads any setting it is not given on the command line from the environment.
    return ServerPlan(command, "llamacpp", path.stem, {"API_KEY": api_key} if api_key else {})


def wait_for_models(base_url: str, timeout: float = 60.0, api_key: str | None = None,
                    process: subprocess.Popen | None = None, expect: str | None = None) -> list[str]:
    """Poll ``GET {base_url}/models`` until a model (``expect``, if given) is listed; the model ids.

    Raises BackendError on timeout, or when ``process`` exits first.
    """
    import httpx

    url = base_url.rstrip("/") + "/models"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise BackendError(f"the server exited with code {process.returncode} before it answered")
        try:
            response = httpx.get(url, headers=headers, timeout=5.0)
            ids = [m["id"] for m in response.json().get("data", [])] if response.status_code == 200 else []
            if ids and (expect is None or expect in ids):
                return ids
            last = f"HTTP {response.status_code}"
        except (httpx.HTTPError, ValueError, KeyError, AttributeError) as exc:
            last = type(exc).__name__
        time.sleep(0.2)
    raise BackendError(f"{url} did not list a model within {timeout:g} s ({last}): "
                       "is the server running? raise the wait timeout for big models")


def stop(process: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM the server's process group, then SIGKILL it after ``grace`` seconds."""
    if process.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def base_url_of(host: str, port: int) -> str:
    """The URL clients use for a server bound to ``host:port`` (a wildcard host means loopback)."""
    reachable = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    return f"http://{reachable}:{port}/v1"


def start(plan: ServerPlan, log: IO[str] | None = None) -> subprocess.Popen:
    """Start the server in its own process group; its output goes to ``log`` (default: inherited)."""
    env = {**os.environ, "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")}
    if plan.engine == "llamacpp":
        env.pop("API_KEY", None)  # a stray API_KEY of another tool would lock clients out
    env.update(plan.env)
    try:
        return subprocess.Popen(plan.command, stdout=log, stderr=subprocess.STDOUT if log else None,
                                stdin=subprocess.DEVNULL, start_new_session=True, env=env)
    except FileNotFoundError as exc:
        raise BackendError(f"cannot run {plan.command[0]!r}: install {plan.engine} first") from exc


@contextmanager
def running_server(model: str | None = None, *, host: str = "127.0.0.1", port: int | None = None,
                   api_key: str | None = None, engine: str = "llamacpp", startup_timeout: float = 120.0,
                   log: IO[str] | None = None, **options: int) -> Iterator[str]:
    """Run a server for ``model`` (default: the embedded GGUF on llama.cpp) and yield its base URL.

    ``port=None`` picks a free loopback port. The server's output goes to ``log`` (default: a
    temporary file whose tail is shown if the server fails to start). The model name it lists
    is ``served_models(base_url)[0]`` (for llama.cpp: the GGUF's file stem).
    """
    port = port or free_port(host)
    ensure_port_free(host, port)
    plan = plan_server(model, host=host, port=port, api_key=api_key, engine=engine, **options)
    base_url = base_url_of(host, port)
    with nullcontext(log) if log else tempfile.TemporaryFile("w+", prefix="corecover-server-") as sink:
        process = start(plan, sink)
        try:
            try:
                wait_for_models(base_url, startup_timeout, api_key, process, expect=plan.model)
            except BackendError as exc:
                raise BackendError(f"{plan.engine} server for {plan.model} failed to start: {exc}"
                                   f"{_tail(sink)}") from None
            yield base_url
        finally:
            stop(process)


def served_models(base_url: str, api_key: str | None = None, timeout: float = 10.0) -> list[str]:
    """The model ids a running server lists."""
    return wait_for_models(base_url, timeout, api_key)


def _tail(sink: IO[str], lines: int = 8) -> str:
    try:
        sink.flush()
        sink.seek(0)
        tail = sink.read().strip().splitlines()[-lines:]
    except (OSError, ValueError):
        return ""
    return ("\n--- server log (last lines) ---\n" + "\n".join(tail)) if tail else ""
