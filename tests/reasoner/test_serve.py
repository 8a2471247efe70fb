"""The server launcher: command plans, clear errors, and `corecover reasoner serve` start/stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from reasoner import BackendError
from reasoner.serve import ensure_port_free, free_port, plan_server, running_server, served_models


def test_plans_llamacpp_on_the_embedded_model_by_default() -> None:
    plan = plan_server(port=9001, engine="llamacpp")
    assert plan.engine == "llamacpp" and plan.model == "SmolLM2-135M-Instruct.Q4_1"
    assert plan.command[1:3] == ["-m", "reasoner.llamacpp_server"] and "9001" in plan.command


def test_vllm_plan_carries_the_vibethinker_settings() -> None:
    plan = plan_server(port=9002, engine="vllm", api_key="k")
    assert plan.command[:3] == ["vllm", "serve", "WeiboAI/VibeThinker-3B"]
    settings = json.loads(plan.command[plan.command.index("--override-generation-config") + 1])
    assert settings == {"temperature": 0.6, "top_p": 0.95, "top_k": -1, "max_new_tokens": 16384}
    assert "k" not in plan.command and plan.env == {"VLLM_API_KEY": "k"}  # not in `ps`, not in logs
    assert plan.describe().endswith("(API key: ****)") and "'k'" not in repr(plan)


def test_api_key_goes_by_environment_and_is_enforced() -> None:
    import httpx

    plan = plan_server(port=9003, engine="llamacpp", api_key="s3cret")
    assert not any("s3cret" in part for part in plan.command) and plan.env == {"API_KEY": "s3cret"}
    with running_server(api_key="s3cret") as base_url:
        assert httpx.get(base_url + "/models", timeout=10).status_code == 401
        assert served_models(base_url, "s3cret") == ["SmolLM2-135M-Instruct.Q4_1"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"model": "Qwen/Qwen2.5-0.5B", "engine": "llamacpp"}, "llama.cpp serves .gguf files"),
    ({"model": "/nonexistent/m.gguf"}, r"model file not found: /nonexistent/m\.gguf"),
    ({"engine": "sglang"}, "unknown engine 'sglang'"),
])
def test_bad_plans(kwargs: dict, message: str) -> None:
    with pytest.raises(BackendError, match=message):
        plan_server(**kwargs)


def test_busy_port_is_refused_before_starting() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(BackendError, match=f"port {port} on 127.0.0.1 is in use"):
            ensure_port_free("127.0.0.1", port)
        with pytest.raises(BackendError, match="is in use"), running_server(port=port):
            pass


def test_cli_serve_starts_answers_and_stops_on_sigterm() -> None:
    port = free_port()
    command = [sys.executable, "-c", "from agent.cli import main; main()", "reasoner", "serve", "--port", str(port)]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                               env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        deadline = time.monotonic() + 120
        lines = []
        while time.monotonic() < deadline:
            line = process.stderr.readline()
            lines.append(line)
            if line.startswith("ready:") or not line:
                break
        assert lines[-1].startswith("ready: SmolLM2-135M-Instruct.Q4_1"), "".join(lines)
        assert served_models(f"http://127.0.0.1:{port}/v1") == ["SmolLM2-135M-Instruct.Q4_1"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    ensure_port_free("127.0.0.1", port)  # the server child is gone too
