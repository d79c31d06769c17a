"""Commands that accept "a snapshot file or a DSN" resolve it here, one way for all."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ..collect import snapshot
from ..config import Config
from ..pipeline import collect_snapshot

if TYPE_CHECKING:
    from ..collect.snapshot import Snapshot


def looks_like_file(arg: str) -> bool:
    """A path to an existing file, or something named like a snapshot/report file.

    A libpq DSN never ends in .json/.json.gz, so a missing file with such a name is
    reported as a missing file rather than as an unreachable server.
    """
    return os.path.isfile(arg) or arg.endswith((".json", ".json.gz", ".gz"))


def load_snapshot(arg: str, cfg: Config | None = None, progress: Any = None) -> Snapshot:
    """Read the snapshot file ``arg``, or collect one from the DSN ``arg``."""

    if looks_like_file(arg):
        return snapshot.load(arg)
    return collect_snapshot(arg, cfg or Config(), progress)
