"""The README's "embed the graph" example runs as printed."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_embed_example_runs(tmp_path, capsys, monkeypatch):
    section = README.read_text().split("## Embed the graph in your app", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    script = tmp_path / "embed.py"
    script.write_text(code)
    monkeypatch.setenv("CORECOVER_REASONER_MAX_TOKENS", "32")
    from agent.config import get_settings

    get_settings.cache_clear()
    try:
        runpy.run_path(str(script), run_name="__main__")
    finally:
        get_settings.cache_clear()
    printed = capsys.readouterr().out
    assert printed.strip()
