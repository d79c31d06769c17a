"""Twin fidelity (issue 14), on real servers 13-18: a snapshot and the snapshot of its twin
give the same findings (same fingerprints) and show no drift.

One twin build per layout per version, shared by the tests of this module:

* the fixture layout (tests/layouts) on a dedicated server of each version, twinned on the
  same major through the CLI (``pgaudit-roles twin SRC -o TWIN --pg-bin ...``), both
  checked through the CLI (``check --format json``);
* the demo layout on each version, twinned through the Python API;
* the 13 and 14 fixture snapshots also twinned on 18 (another major).

Dedicated servers, not the shared ``pg`` one: the twin reproduces the whole cluster, and
other modules leave their own roles behind on the shared server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cli_support import cli_process, sigint_default
from conftest import VERSIONS, Server, install_for
from layouts import FX, apply_fixture_layout, make_auditor

from pgaudit_roles.collect.snapshot import Snapshot, load, save
from pgaudit_roles.core.localpg import LocalCluster
from pgaudit_roles.evaluate import drift

pytestmark = pytest.mark.pg

AUDITOR = "twin_auditor"


def _cli(*args: str, cwd: Path, process: bool = False) -> subprocess.CompletedProcess[str]:
    """``pgaudit-roles ARGS`` with no PG* variables, in this process (tests/cli_support.py:
    these runs are judged by exit code, output and files; a subprocess per run paid the
    interpreter start and the heavy imports again), or with ``process`` as a real process
    (``twin`` through the real entry point, once, in test_scope_options_and_serve)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    if not process:
        return cli_process(list(args), cwd=cwd, env=env)
    return subprocess.run(
        [sys.executable, "-m", "pgaudit_roles.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
    )


def _check_fingerprints(snapshot: Path, out: Path, config: Path | None = None) -> dict[str, str]:
    args = [
        "check",
        str(snapshot),
        "--format",
        "json",
        "--output-dir",
        str(out),
        "--quiet",
        "--fail-on",
        "none",
    ]
    if config is not None:
        args += ["--config", str(config)]
    proc = _cli(*args, cwd=out.parent)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "pgaudit-report.json").read_text(encoding="utf-8"))
    return {
        f["fingerprint"]: f"{f['rule_id']} {f.get('database')} {f.get('object_identity')} "
        f"{f.get('role')}"
        for f in report["findings"]
    }


@dataclass
class Pair:
    major: int
    work: Path
    source_path: Path
    twin_path: Path
    source: Snapshot
    twin: Snapshot
    source_findings: dict[str, str]
    twin_findings: dict[str, str]
    twin_stderr: str


@pytest.fixture(scope="module", params=VERSIONS, ids=[f"pg{v}" for v in VERSIONS])
def fixture_pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pair]:
    major = int(request.param)
    inst = install_for(major)
    work = tmp_path_factory.mktemp(f"twin-pg{major}")
    cluster = LocalCluster(inst)
    cluster.start()
    try:
        pg = Server(cluster)
        db = pg.create_database("twin_app")
        apply_fixture_layout(pg, db)
        conninfo = make_auditor(pg, AUDITOR)
        from pgaudit_roles.collect.collector import collect

        src_path = work / "source.json"
        save(collect(conninfo, all_databases=True), src_path)
    finally:
        cluster.stop()
    twin_path = work / "twin.json"
    proc = _cli(
        "twin", str(src_path), "-o", str(twin_path), "--pg-bin", str(inst.bin_dir), cwd=work
    )
    assert proc.returncode == 0, proc.stderr
    yield Pair(
        major,
        work,
        src_path,
        twin_path,
        load(src_path),
        load(twin_path),
        _check_fingerprints(src_path, work / "check-source"),
        _check_fingerprints(twin_path, work / "check-twin"),
        proc.stderr,
    )


def _describe_difference(a: dict[str, str], b: dict[str, str]) -> str:
    return (
        "only in the source: "
        + "; ".join(a[k] for k in sorted(set(a) - set(b)))
        + "\nonly in the twin: "
        + "; ".join(b[k] for k in sorted(set(b) - set(a)))
    )


def test_twin_check_gives_the_same_findings(fixture_pair: Pair) -> None:
    p = fixture_pair
    assert len(p.source_findings) >= 20, "the fixture layout produced almost no findings"
    assert set(p.source_findings) == set(p.twin_findings), _describe_difference(
        p.source_findings, p.twin_findings
    )


def test_twin_diff_shows_no_drift(fixture_pair: Pair) -> None:
    d = drift.compare(fixture_pair.source, fixture_pair.twin)
    assert drift.is_empty(d), json.dumps(
        {k: v for k, v in d.items() if any(x for kk, x in v.items() if kk != "collected")},
        default=str,
        indent=1,
    )[:4000]
    proc = _cli(
        "diff", str(fixture_pair.source_path), str(fixture_pair.twin_path), cwd=fixture_pair.work
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hostile_names_survive(fixture_pair: Pair) -> None:
    twin = fixture_pair.twin
    roles = {r["name"] for r in twin.table("roles").dicts()}
    assert FX.hostile_role in roles
    assert FX.hostile_db in {d["name"] for d in twin.table("databases").dicts()}
    db = next(d for d in twin.databases if d.name == "twin_app")
    assert FX.hostile_schema in {s["name"] for s in db.table("schemas").dicts()}
    objects = {o["name"] for o in db.table("objects").dicts()}
    assert FX.hostile_table in objects and FX.hostile_function in objects
    assert FX.hostile_column in {c["name"] for c in db.table("columns").dicts()}


def test_twin_marks_what_it_carried_over(fixture_pair: Pair) -> None:
    meta: dict[str, Any] = fixture_pair.twin.meta
    twin = meta["twin"]
    assert twin["server_version_num"] // 10000 == fixture_pair.major
    for source in ("hba_rules", "settings", "activity", "password_types"):
        assert meta["sources"][source]["carried_over"] is True, source
    assert any("password_types" in c for c in twin["carried_over"])
    # the source's hba lines, unchanged
    assert fixture_pair.twin.table("hba_rules").rows == fixture_pair.source.table("hba_rules").rows
    assert meta["server_version"] == fixture_pair.source.meta["server_version"]


def test_13_and_14_snapshots_twinned_on_18(fixture_pair: Pair) -> None:
    """Another major: the twin runs on 18, the findings and the drift stay the source's; the
    twin holds no password."""
    if fixture_pair.major not in (13, 14):
        pytest.skip("only the 13 and 14 snapshots are twinned on 18")
    import psycopg

    from pgaudit_roles.config import Config
    from pgaudit_roles.pipeline import evaluate_snapshot, load_rules_for
    from pgaudit_roles.twin import build_twin

    with build_twin(fixture_pair.source, install=install_for(18)) as twin:
        assert twin.server_version_num >= 180000
        with psycopg.connect(twin.conninfo(), autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_catalog.pg_authid WHERE rolpassword IS NOT NULL"
            ).fetchone()
        assert row is not None and row[0] == 0, "the twin stored a password"
        snap = twin.collect()
    assert drift.is_empty(drift.compare(fixture_pair.source, snap))
    cfg = Config()
    rules = load_rules_for(cfg)
    # the source's findings: the fixture's check of the source (default configuration,
    # the same fingerprints as evaluating it here, which cost a second evaluation)
    a = fixture_pair.source_findings
    b = {
        f.fingerprint: f"{f.rule_id} {f.database} {f.object_identity} {f.role}"
        for f in evaluate_snapshot(snap, rules, cfg, inventory=False).findings
    }
    assert set(a) == set(b), _describe_difference(a, b)


# --- the demo layout -----------------------------------------------------------------------


@pytest.fixture(scope="module", params=VERSIONS, ids=[f"pg{v}" for v in VERSIONS])
def demo_pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Snapshot, Snapshot]]:
    from fixrescan_support import start_demo

    from pgaudit_roles.collect.collector import collect
    from pgaudit_roles.demo.build import AUDITOR as DEMO_AUDITOR
    from pgaudit_roles.twin import build_twin

    major = int(request.param)
    inst = install_for(major)
    dc = start_demo(inst, tmp_path_factory.mktemp(f"twin-demo-pg{major}"))
    try:
        source = collect(dc.cluster.conninfo(user=DEMO_AUDITOR), all_databases=True)
    finally:
        dc.stop()
    with build_twin(source, install=inst) as twin:
        yield source, twin.collect()


def test_demo_twin_same_findings_and_no_drift(demo_pair: tuple[Snapshot, Snapshot]) -> None:
    from pgaudit_roles import demo
    from pgaudit_roles.config import load_config
    from pgaudit_roles.pipeline import evaluate_snapshot, load_rules_for

    source, twin = demo_pair
    d = drift.compare(source, twin)
    assert drift.is_empty(d), json.dumps(d, default=str)[:3000]
    cfg = load_config(demo.CONFIG_FILE, discover_file=False)
    rules = load_rules_for(cfg)
    a = {
        f.fingerprint: f"{f.rule_id} {f.object_identity} {f.role}"
        for f in evaluate_snapshot(source, rules, cfg, inventory=False).findings
    }
    b = {
        f.fingerprint: f"{f.rule_id} {f.object_identity} {f.role}"
        for f in evaluate_snapshot(twin, rules, cfg, inventory=False).findings
    }
    assert len(a) >= 20
    assert set(a) == set(b), _describe_difference(a, b)


def test_scope_options_and_serve(fixture_pair: Pair) -> None:
    """The README's recipes: ``twin -d/--schema`` fills in only that scope; ``--serve``
    prints a DSN that connects, and Ctrl-C stops and removes the twin."""
    if fixture_pair.major != 18:
        pytest.skip("scope and --serve are exercised once, on 18")
    import signal

    import psycopg

    inst = install_for(18)
    out = fixture_pair.work / "scoped.json"
    proc = _cli(
        "twin",
        str(fixture_pair.source_path),
        "-o",
        str(out),
        "-d",
        "twin_app",
        "--schema",
        "app_data",
        "--pg-bin",
        str(inst.bin_dir),
        cwd=fixture_pair.work,
        process=True,
    )
    assert proc.returncode == 0, proc.stderr
    snap = load(out)
    by_name = {d.name: d for d in snap.databases}
    assert by_name["postgres"].status == "not_collected"
    assert "scope" in (by_name["postgres"].reason or "")
    db = by_name["twin_app"]
    schemas = {int(s["oid"]): s["name"] for s in db.table("schemas").dicts()}
    in_schemas = {
        schemas.get(int(o["schema_oid"]))
        for o in db.table("objects").dicts()
        if o["schema_oid"] is not None
    }
    assert "app_data" in in_schemas and "fx_misc" not in in_schemas

    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    serve = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pgaudit_roles.cli",
            "twin",
            str(fixture_pair.source_path),
            "--serve",
            "--quiet",
            "--pg-bin",
            str(inst.bin_dir),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=fixture_pair.work,
        preexec_fn=sigint_default,
    )
    try:
        assert serve.stdout is not None
        line = serve.stdout.readline()
        assert line.startswith("twin running: psql "), line
        import shlex

        dsn = shlex.split(line.split("psql ", 1)[1])[0]
        with psycopg.connect(dsn, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_catalog.pg_roles WHERE rolname = %s", (FX.hostile_role,)
            ).fetchone()
        assert row == (1,)
    finally:
        serve.send_signal(signal.SIGINT)
        serve.wait(timeout=60)
    assert serve.returncode == 0
