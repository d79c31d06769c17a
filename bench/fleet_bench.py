#!/usr/bin/env python3
"""Fleet benchmark (issue 19): many small local clusters of mixed versions, audited by
``pgaudit-roles fleet``, one of them killed in the middle of its audit.

What it measures:

- throughput: targets audited per minute of wall time, at ``--parallel`` and ``--jobs``;
- peak memory: the fleet's whole process tree (supervisor, forkserver, target processes),
  sampled from /proc every 100 ms, and the largest single target process (``ru_maxrss``
  each target reports);
- connections: from the servers' own logs (``log_connections``/``log_disconnections``),
  so measuring adds no session: sessions opened, the most open at once on one server,
  and the most open at once across the fleet, against the bound parallel x (jobs + 1);
- failure handling: the first target is the largest; as soon as the auditor's first
  session shows up in its log the server is stopped (``pg_ctl -m immediate``); it must
  come out as a finding of that target while every other target is audited.

Clusters come from the test harness's binaries (``localpg.find_installs``), versions in
turn 13..18, sizes in turn from ``SIZES`` (bench/make_cluster.py builds each layout).

Usage:
    python bench/fleet_bench.py --clusters 20 --parallel 4 --jobs 2 --output fleet.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

import make_cluster as mc  # noqa: E402

from pgaudit_roles.core.localpg import LocalCluster, find_installs  # noqa: E402

SIZES: tuple[mc.Sizes, ...] = (
    mc.Sizes(databases=1, roles=40, tables=60, schemas_per_db=2, apps_per_db=1, hba_lines=20),
    mc.Sizes(databases=2, roles=120, tables=300, schemas_per_db=3, hba_lines=60),
    mc.Sizes(databases=3, roles=300, tables=1_200, schemas_per_db=6, hba_lines=120),
)
VICTIM_SIZE = mc.Sizes(databases=4, roles=400, tables=4_000, schemas_per_db=8, hba_lines=150)
"""The first target: the largest, so its audit is still running when it is killed."""

SETTINGS = {
    "log_connections": "on",
    "log_disconnections": "on",
    "max_connections": "40",
    "shared_buffers": "'16MB'",
    "autovacuum": "off",
}
_CONN = re.compile(r"^(\S+ \S+ \S+) \[(\d+)\] .*connection authorized: user=(\S+)")
_DISC = re.compile(r"^(\S+ \S+ \S+) \[(\d+)\] .*disconnection: session time: .* user=(\S+)")


@dataclass
class Built:
    name: str
    cluster: LocalCluster
    sizes: mc.Sizes
    major: int


def say(msg: str) -> None:
    print(f"fleet-bench: {msg}", file=sys.stderr, flush=True)


def build_fleet(n: int) -> list[Built]:
    installs = find_installs()
    if not installs:
        raise SystemExit("fleet-bench: no PostgreSQL binaries (see tests/run.sh)")
    majors = sorted(installs)
    out: list[Built] = []
    try:
        for i in range(n):
            major = majors[i % len(majors)]
            sizes = VICTIM_SIZE if i == 0 else SIZES[i % len(SIZES)]
            c = LocalCluster(installs[major], settings=SETTINGS)
            c.start()
            out.append(Built(f"c{i:02d}-pg{major}", c, sizes, major))
            mc.build(c.conninfo(), sizes, jobs=1, say=lambda _m: None)
            say(f"{out[-1].name}: {sizes.label()}")
    except BaseException:
        for b in out:
            b.cluster.stop(mode="immediate")
        raise
    return out


def tree_rss_kb(root: int) -> int:
    """Resident memory of ``root`` and every descendant (Linux /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            pid, ppid = int(entry), int(fields[1])
            rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") // 1024
            children.setdefault(ppid, []).append(pid)
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total


def sessions(log: Path, user: str) -> list[tuple[float, float]]:
    """(start, end) of every session of ``user`` in a server log, epoch seconds."""

    def ts(text: str) -> float:
        return dt.datetime.strptime(text.rsplit(" ", 1)[0], "%Y-%m-%d %H:%M:%S.%f").timestamp()

    start: dict[str, float] = {}
    out = []
    for line in log.read_text(errors="replace").splitlines():
        m = _CONN.match(line)
        if m and m.group(3) == user:
            start[m.group(2)] = ts(m.group(1))
            continue
        m = _DISC.match(line)
        if m and m.group(3) == user and m.group(2) in start:
            out.append((start.pop(m.group(2)), ts(m.group(1))))
    out += [(s, float("inf")) for s in start.values()]  # killed: no disconnection line
    return out


def peak_overlap(intervals: list[tuple[float, float]]) -> int:
    events = sorted(
        [(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1])
    )
    cur = best = 0
    for _, d in events:
        cur += d
        best = max(best, cur)
    return best


def run(args: argparse.Namespace) -> dict[str, Any]:
    t_build = time.monotonic()
    fleet = build_fleet(args.clusters)
    build_s = time.monotonic() - t_build
    work = Path(tempfile.mkdtemp(prefix="pgaudit-fleet-bench-"))
    try:
        inv = work / "fleet.toml"
        inv.write_text(
            "".join(
                f'[[targets]]\nname = "{b.name}"\ndsn = {json.dumps(b.cluster.conninfo(user=mc.AUDITOR))}\n'
                f'tags = ["pg{b.major}"]\n'
                for b in fleet
            ),
            encoding="utf-8",
        )
        victim = fleet[0]
        killed_at: list[float] = []

        def killer() -> None:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                if victim.cluster.log_file.exists() and any(
                    _CONN.match(x) and mc.AUDITOR in x
                    for x in victim.cluster.log_file.read_text(errors="replace").splitlines()
                ):
                    time.sleep(args.kill_after)
                    killed_at.append(time.monotonic())
                    victim.cluster.stop(keep_dir=True, mode="immediate")
                    return
                time.sleep(0.05)

        out = work / "out"
        cmd = [
            sys.executable,
            "-m",
            "pgaudit_roles.cli",
            "fleet",
            str(inv),
            "--parallel",
            str(args.parallel),
            "--jobs",
            str(args.jobs),
            "--format",
            "json",
            "--output-dir",
            str(out),
            "--quiet",
        ]
        peak = [0]
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=work)
        kill_thread = threading.Thread(target=killer, daemon=True)
        kill_thread.start()
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_rss_kb(proc.pid))
            time.sleep(0.1)
        wall = time.monotonic() - t0
        doc = json.loads((out / "fleet-report.json").read_text())
        intervals = {b.name: sessions(b.cluster.log_file, mc.AUDITOR) for b in fleet}
        everything = [iv for ivs in intervals.values() for iv in ivs]
        targets = doc["targets"]
        status = {t["name"]: t["status"] for t in targets}
        audited = [t for t in targets if t["status"] == "audited"]
        return {
            "date": dt.date.today().isoformat(),
            "clusters": len(fleet),
            "versions": sorted({b.major for b in fleet}),
            "sizes": sorted({b.sizes.label() for b in fleet}),
            "parallel": args.parallel,
            "jobs": args.jobs,
            "build_seconds": round(build_s, 1),
            "wall_seconds": round(wall, 2),
            "targets_per_minute": round(len(targets) / wall * 60, 1),
            "exit_code": proc.returncode,
            "status": status,
            "victim": {
                "name": victim.name,
                "status": status[victim.name],
                "reason": next(t["reason"] for t in targets if t["name"] == victim.name),
                "killed_after_s": round(killed_at[0] - t0, 2) if killed_at else None,
            },
            "audited": len(audited),
            "target_seconds": {
                "min": min(t["duration_s"] for t in audited),
                "max": max(t["duration_s"] for t in audited),
                "sum": round(sum(t["duration_s"] for t in audited), 1),
            },
            "findings": sum(sum(t["counts"].values()) for t in targets),
            "peak_rss_tree_mib": round(peak[0] / 1024, 1),
            "peak_rss_target_mib": round(max(t["peak_rss_kb"] or 0 for t in targets) / 1024, 1),
            "connections": {
                "opened": len(everything),
                "per_target_max_opened": max(len(v) for v in intervals.values()),
                "peak_one_server": max(peak_overlap(v) for v in intervals.values()),
                "peak_fleet": peak_overlap(everything),
                "bound": args.parallel * (args.jobs + 1),
            },
        }
    finally:
        for b in fleet:
            b.cluster.stop(mode="immediate")
        if not args.keep:
            import shutil

            shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clusters", type=int, default=20)
    p.add_argument("--parallel", type=int, default=4)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument(
        "--kill-after",
        type=float,
        default=0.3,
        help="seconds after the victim's first audit session before it is killed",
    )
    p.add_argument("--output", type=Path, help="also write the numbers as JSON")
    p.add_argument("--keep", action="store_true", help="keep the fleet's output directory")
    args = p.parse_args()
    if args.clusters < 2:
        raise SystemExit("fleet-bench: --clusters must be at least 2")
    result = run(args)
    text = json.dumps(result, indent=1)
    print(text)
    if args.output:
        args.output.write_text(text + "\n")


if __name__ == "__main__":
    main()
