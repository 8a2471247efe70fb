"""Set-up step for the chat page: fetch KaTeX from the npm registry and unpack it locally.

``python -m agent.assets`` runs ``npm pack katex@VERSION`` in a temp dir and copies
``katex.min.js``, ``katex.min.css``, ``fonts/`` and ``contrib/auto-render.min.js`` into
``agent/static/vendor/katex/`` (gitignored). The page is served with these files only,
never from a CDN. Idempotent: a second run with the files in place returns at once.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

KATEX_VERSION = "0.16.22"
VENDOR_DIR = Path(__file__).resolve().parent / "static" / "vendor" / "katex"
STAMP = ".version"
# files of the npm tarball (under package/dist/) -> where they go in VENDOR_DIR
WANTED = ("katex.min.js", "katex.min.css", "contrib/auto-render.min.js")


def katex_ready(vendor_dir: Path = VENDOR_DIR) -> bool:
    """True when the pinned KaTeX is unpacked in ``vendor_dir``."""
    stamp = vendor_dir / STAMP
    return (stamp.is_file() and stamp.read_text().strip() == KATEX_VERSION
            and all((vendor_dir / name).is_file() for name in WANTED)
            and any((vendor_dir / "fonts").glob("*.woff2")))


def fetch_katex(vendor_dir: Path = VENDOR_DIR, version: str = KATEX_VERSION) -> Path:
    """Download ``katex@version`` with npm and unpack the files the page needs into ``vendor_dir``."""
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm not found: install Node.js/npm (e.g. apt-get install npm), "
                           "then run `python -m agent.assets` again")
    with tempfile.TemporaryDirectory(prefix="corecover-katex-") as tmp:
        proc = subprocess.run([npm, "pack", f"katex@{version}", "--silent", "--pack-destination", tmp],
                              cwd=tmp, capture_output=True, text=True, timeout=300)
        tarballs = list(Path(tmp).glob("katex-*.tgz"))
        if proc.returncode != 0 or not tarballs:
            raise RuntimeError(f"`npm pack katex@{version}` failed: {proc.stderr.strip()[-400:]}")
        with tarfile.open(tarballs[0]) as tar:
            members = [m for m in tar.getmembers() if m.isfile() and m.name.startswith("package/dist/")]
            tar.extractall(tmp, members=members, filter="data")
        dist = Path(tmp) / "package" / "dist"
        vendor_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".katex-", dir=vendor_dir.parent))
        for name in WANTED:
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(dist / name, staging / name)
        shutil.copytree(dist / "fonts", staging / "fonts")
        (staging / STAMP).write_text(version + "\n")
        # build beside the target, then swap it in with a rename
        if vendor_dir.exists():
            shutil.rmtree(vendor_dir)
        staging.rename(vendor_dir)
    return vendor_dir


def main() -> int:
    """Entry point of ``python -m agent.assets``."""
    if katex_ready():
        print(f"KaTeX {KATEX_VERSION} already in {VENDOR_DIR}")
        return 0
    try:
        path = fetch_katex()
    except (RuntimeError, subprocess.TimeoutExpired, OSError, tarfile.TarError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"KaTeX {KATEX_VERSION} unpacked into {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
