"""Named points of an index build or update, where crash tests can stop a real process.

`phase(name)` does nothing unless $CORECOVER_PAUSE_AT names that phase. Then it announces the
pause (one JSON line appended to $CORECOVER_PAUSE_FILE, else on stderr) and blocks for good,
so a test can SIGKILL the process at exactly that point. Phases, in order:

    embedding    after the first new shard of vectors is on disk, with more to embed
    indexed      all vectors at hand, FAISS and BM25 built, nothing saved yet
    save-files   the new files written into the temp folder, manifest not yet written
    save-synced  the temp folder complete and fsynced, the old index still in place
    swapped      the new index in place, the old one and the embedding shards not yet removed
"""

from __future__ import annotations

import json
import os
import sys
import time

PAUSE_AT = "CORECOVER_PAUSE_AT"
PAUSE_FILE = "CORECOVER_PAUSE_FILE"
PHASES = ("embedding", "indexed", "save-files", "save-synced", "swapped")


def phase(name: str, **info) -> None:
    """Mark phase `name`; block here for good when $CORECOVER_PAUSE_AT asks for it."""
    if os.environ.get(PAUSE_AT) != name:
        return
    line = json.dumps({"phase": name, "pid": os.getpid(), **info})
    if os.environ.get(PAUSE_FILE):
        with open(os.environ[PAUSE_FILE], "a", encoding="utf-8") as f:
            f.write(line + "\n")
    else:
        print(f"corecover: paused at {line}", file=sys.stderr, flush=True)
    while True:
        time.sleep(3600)
