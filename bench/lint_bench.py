#!/usr/bin/env python3
"""Benchmark of ``pgaudit-roles lint`` (issue 15): both layers, the numbers in RESULTS.md.

- Statement layer: ``--files`` generated migration files (default 1,000) of mixed DDL,
  grants and DML, Flyway-named, linted with ``--no-twin`` in this process. Reported per
  1,000 statements (target: under 1 s), split into ordering + parsing and the checks.
- Twin layer: the demo's layout (pgaudit_roles/demo/layout.sql) written out as migrations,
  one file per step with a ``\\connect``, linted on an empty twin. Compared with the
  server's own work: starting the same kind of cluster and applying the same statements
  with psycopg alone (no collection, no evaluation).

Usage:
    python bench/lint_bench.py                      # both, 1,000 files
    python bench/lint_bench.py --files 200 --skip-twin
    python bench/lint_bench.py --output lint-bench.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TEMPLATES = (
    "CREATE TABLE app_{n}.t{i} (id bigint PRIMARY KEY, body text, created timestamptz);",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON app_{n}.t{i} TO db_writer_{n};",
    "GRANT SELECT ON app_{n}.t{i} TO db_reader_{n};",
    "CREATE INDEX ON app_{n}.t{i} (created);",
    "INSERT INTO app_{n}.t{i} (id, body) VALUES ({i}, 'row {i}');",
    "ALTER TABLE app_{n}.t{i} ADD COLUMN c{i} integer;",
    "CREATE FUNCTION app_{n}.f{i}(x int) RETURNS int LANGUAGE sql STABLE "
    "SET search_path = app_{n}, pg_temp AS $$ SELECT x + {i} $$;",
    "ALTER DEFAULT PRIVILEGES FOR ROLE db_owner_{n} IN SCHEMA app_{n} "
    "GRANT SELECT ON TABLES TO db_reader_{n};",
    "CREATE VIEW app_{n}.v{i} AS SELECT id FROM app_{n}.t{i};",
    "GRANT ALL ON app_{n}.t{i} TO PUBLIC;",  # a mistake now and then
)


def generate(directory: Path, files: int, per_file: int, seed: int = 15) -> int:
    """``files`` Flyway migrations of ``per_file`` statements each; returns the total."""
    rng = random.Random(seed)
    total = 0
    for k in range(1, files + 1):
        n = k % 20
        lines = [f"-- migration {k}"]
        if k <= 20:
            lines += [
                f"CREATE ROLE db_owner_{n} NOLOGIN;",
                f"CREATE ROLE db_writer_{n} NOLOGIN;",
                f"CREATE ROLE db_reader_{n} NOLOGIN;",
                f"CREATE SCHEMA app_{n} AUTHORIZATION db_owner_{n};",
            ]
        while len(lines) - 1 < per_file:
            i = k * 100 + len(lines)
            weights = [10, 8, 8, 6, 6, 4, 3, 2, 2, 1]
            lines.append(rng.choices(TEMPLATES, weights)[0].format(n=n, i=i))
        total += len(lines) - 1
        (directory / f"V{k}__step_{k}.sql").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return total


def bench_statements(files: int, per_file: int, repeat: int) -> dict[str, Any]:
    from pgaudit_roles.config import Config
    from pgaudit_roles.evaluate.rules import load_rules
    from pgaudit_roles.lint.run import LintOptions, lint

    rules = load_rules()
    with tempfile.TemporaryDirectory(prefix="lint-bench-") as tmp:
        d = Path(tmp)
        total = generate(d, files, per_file)
        best: dict[str, Any] | None = None
        for _ in range(repeat):
            t0 = time.perf_counter()
            result = lint(LintOptions(paths=[d], twin=False, root=d), rules, Config())
            wall = time.perf_counter() - t0
            if best is None or wall < best["wall_s"]:
                lint_meta = result.meta["lint"]
                best = {
                    "wall_s": round(wall, 3),
                    "parse_s": lint_meta["seconds"]["parse"],
                    "checks_s": lint_meta["seconds"]["checks"],
                    "findings": len(result.findings),
                }
        assert best is not None
        return {
            "files": files,
            "statements": total,
            "repeat": repeat,
            **best,
            "per_1000_statements_s": round(best["wall_s"] / total * 1000, 3),
        }


def demo_migrations(directory: Path, server_version_num: int) -> int:
    """The demo layout as migrations: one file per step, each opening with \\connect."""
    from pgaudit_roles.demo import LAYOUT_FILE
    from pgaudit_roles.demo.build import parse_layout

    text = LAYOUT_FILE.read_text(encoding="utf-8")
    count = 0
    for i, step in enumerate(parse_layout(text, server_version_num), 1):
        if not step.sql.strip():
            continue  # password steps: the demo sets them through libpq, not SQL
        (directory / f"{i:03d}_{step.database}.sql").write_text(
            f"\\connect {step.database}\n{step.sql}\n", encoding="utf-8"
        )
        count += 1
    return count


def bench_twin() -> dict[str, Any]:
    import psycopg

    from pgaudit_roles.config import Config
    from pgaudit_roles.core.localpg import LocalCluster
    from pgaudit_roles.demo import choose_install
    from pgaudit_roles.evaluate.rules import load_rules
    from pgaudit_roles.lint.run import LintOptions, lint
    from pgaudit_roles.lint.source import read_sources

    inst = choose_install(None)
    rules = load_rules()
    with tempfile.TemporaryDirectory(prefix="lint-bench-twin-") as tmp:
        d = Path(tmp)
        files = demo_migrations(d, inst.major * 10000)
        # the server's own work: a cluster started, the same statements applied, nothing else
        t0 = time.perf_counter()
        cluster = LocalCluster(inst).start()
        t_start = time.perf_counter() - t0
        src = read_sources(sorted(d.glob("*.sql")), d)
        t1 = time.perf_counter()
        conns: dict[str, Any] = {}
        try:
            for st in src.statements:
                db = st.database or "postgres"
                if db not in conns:
                    conns[db] = psycopg.connect(cluster.conninfo(dbname=db), autocommit=True)
                conns[db].execute(st.text.encode())
        finally:
            for c in conns.values():
                c.close()
            t_apply = time.perf_counter() - t1
            cluster.stop()
        t2 = time.perf_counter()
        result = lint(LintOptions(paths=[d], root=d, install=inst), rules, Config())
        wall = time.perf_counter() - t2
        t3 = time.perf_counter()
        one = lint(LintOptions(paths=[d], root=d, install=inst, checkpoints=1), rules, Config())
        wall_one = time.perf_counter() - t3
    twin = result.meta["lint"]["twin"]
    located = [f for f in result.findings if f.file is not None]
    return {
        "postgres": inst.version,
        "files": files,
        "statements": len(src.statements),
        "applied": twin["applied"],
        "evaluations": twin["evaluations"],
        "lint_wall_s": round(wall, 3),
        "twin_s": twin["seconds"],
        "server_only_start_s": round(t_start, 3),
        "server_only_apply_s": round(t_apply, 3),
        "findings_at_statements": len(located),
        "checkpoints_1": {
            "lint_wall_s": round(wall_one, 3),
            "evaluations": one.meta["lint"]["twin"]["evaluations"],
            "same_findings": sorted(f.fingerprint for f in one.findings)
            == sorted(f.fingerprint for f in result.findings),
            "same_locations": sorted((f.fingerprint, f.file, f.line) for f in one.findings)
            == sorted((f.fingerprint, f.file, f.line) for f in result.findings),
        },
        "pre_existing": sum(1 for f in result.findings if f.pre_existing),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--per-file", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-twin", action="store_true")
    ap.add_argument("--output", type=Path)
    args = ap.parse_args(argv)
    out: dict[str, Any] = {
        "statement_layer": bench_statements(args.files, args.per_file, args.repeat)
    }
    print(json.dumps(out["statement_layer"]), flush=True)
    if not args.skip_twin:
        out["twin_layer"] = bench_twin()
        print(json.dumps(out["twin_layer"]), flush=True)
    if args.output:
        args.output.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
