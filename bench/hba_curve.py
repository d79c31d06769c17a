"""Time and peak memory of the pg_hba analysis (parse + reach + shadowing) by file size.

Why a separate script: the analysis is pure Python over the parsed lines, so its curve can
be measured without a server. Each point runs in its own child process, so peak RSS
(``ru_maxrss`` from ``os.wait4``) is that point's alone. The file is synthetic but shaped
like a large real one: per-application ``hostssl`` lines with /24 or /32 networks, some
``+group`` and host-name lines, IPv6, replication, a few subnet rejects, duplicated lines
(shadowed) and a final catch-all reject.

    python bench/hba_curve.py                      # 1k, 5k, 20k, 100k lines
    python bench/hba_curve.py --sizes 1000,5000 --naive   # also the old pairwise search
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def make_hba(path: Path, lines: int, seed: int = 7) -> None:
    """Write a synthetic pg_hba.conf of ``lines`` rule lines."""
    rng = random.Random(seed)
    out = ["local all postgres peer", "local all all scram-sha-256"]
    while len(out) < lines - 1:
        i = len(out)
        kind = rng.random()
        if kind < 0.55:
            out.append(
                f"hostssl db{i % 211} app{i} 10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}/32 "
                "scram-sha-256"
            )
        elif kind < 0.70:
            out.append(
                f"hostssl db{i % 211},reporting +team{i % 53} 172.{16 + i % 16}.{i % 256}.0/24 "
                "scram-sha-256"
            )
        elif kind < 0.78:
            out.append(f"host db{i % 211} svc{i} host{i}.app.example.com scram-sha-256")
        elif kind < 0.86:
            out.append(f"hostssl all ops{i % 97} 2001:db8:{i % 65536:x}::/48 cert")
        elif kind < 0.90:
            out.append(f"hostssl replication rep{i % 13} 10.200.{i % 256}.0/24 scram-sha-256")
        elif kind < 0.93:
            out.append(f"host all all 192.168.{i % 256}.0/24 reject")
        else:  # an earlier line again: shadowed
            out.append(out[rng.randrange(2, len(out))])
    out.append("host all all all reject")
    path.write_text("\n".join(out[:lines]) + "\n", encoding="utf-8")


def child(path: str, naive: bool) -> None:
    """One measurement: parse the file, analyse it, print JSON on stdout."""
    from pgaudit_roles.audit.hba_analysis import analyze_facts, pairwise_shadowed_by
    from pgaudit_roles.collect.hba import parse_hba_file

    start = time.perf_counter()
    rows = parse_hba_file(path, 16)
    parsed = time.perf_counter()
    shadowed = sum(1 for f in analyze_facts(rows) if f["shadowed_by"] is not None)
    done = time.perf_counter()
    result = {
        "lines": len(rows),
        "parse_s": round(parsed - start, 3),
        "analyze_s": round(done - parsed, 3),
        "shadowed": shadowed,
    }
    if naive:
        t = time.perf_counter()
        pairwise_shadowed_by(rows)
        result["naive_analyze_s"] = round(time.perf_counter() - t, 3)
    print(json.dumps(result))


def measure(lines: int, naive: bool) -> dict:  # type: ignore[type-arg]
    import subprocess

    with tempfile.TemporaryDirectory(prefix="pgaudit-bench-hba-") as tmp:
        path = Path(tmp) / "pg_hba.conf"
        make_hba(path, lines)
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, __file__, "--child", str(path)] + (["--naive"] if naive else []),
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        text = proc.stdout.read()
        _pid, status, usage = os.wait4(proc.pid, 0)
        if status != 0:
            raise SystemExit(f"measurement of {lines} lines failed (status {status})")
        result = json.loads(text)
        result["wall_s"] = round(time.perf_counter() - start, 3)
        result["peak_rss_mib"] = round(usage.ru_maxrss / 1024, 1)
        return result  # type: ignore[no-any-return]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,5000,20000,100000")
    ap.add_argument("--naive", action="store_true", help="also time the old pairwise search")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.naive)
        return
    print(
        f"{'lines':>8} {'parse s':>8} {'analyze s':>10} {'wall s':>8} {'peak MiB':>9} "
        f"{'shadowed':>9}" + (f" {'pairwise s':>11}" if args.naive else "")
    )
    for n in (int(x) for x in args.sizes.split(",")):
        r = measure(n, args.naive)
        print(
            f"{r['lines']:>8} {r['parse_s']:>8} {r['analyze_s']:>10} {r['wall_s']:>8} "
            f"{r['peak_rss_mib']:>9} {r['shadowed']:>9}"
            + (f" {r['naive_analyze_s']:>11}" if args.naive else ""),
            flush=True,
        )


if __name__ == "__main__":
    main()
