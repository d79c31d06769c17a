#!/usr/bin/env python3
"""Twin build time for a benchmark preset (issue 14): build the synthetic cluster
(bench/make_cluster.py), collect it as the bench auditor, then time ``build_twin`` and the
twin's collection. Prints one JSON line; numbers go into bench/RESULTS.md.

Usage: python bench/twin_build.py --scale small
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=("small", "medium"), default="small")
    args = parser.parse_args()
    from make_cluster import AUDITOR, PRESETS, open_cluster  # type: ignore[import-not-found]

    from pgaudit_roles.collect.collector import collect
    from pgaudit_roles.twin import build_twin

    started = time.monotonic()
    cluster, _report = open_cluster(
        PRESETS[args.scale], pg_bin=None, data_dir=None, jobs=2, say=lambda _m: None
    )
    try:
        made = time.monotonic() - started
        t0 = time.monotonic()
        source = collect(cluster.conninfo(user=AUDITOR), all_databases=True)
        collected = time.monotonic() - t0
        t0 = time.monotonic()
        with build_twin(source, install=cluster.install) as twin:
            built = time.monotonic() - t0
            failures = len(twin.failures)
            t1 = time.monotonic()
            twin.collect()
            twin_collect = time.monotonic() - t1
    finally:
        cluster.stop()
    print(
        json.dumps(
            {
                "scale": args.scale,
                "server": cluster.install.version,
                "make_cluster_s": round(made, 1),
                "collect_s": round(collected, 1),
                "twin_build_s": round(built, 1),
                "twin_collect_s": round(twin_collect, 1),
                "statements_not_reproduced": failures,
            }
        )
    )


if __name__ == "__main__":
    main()
