"""Smoke tests of the scale benchmark (bench/): the generator builds a valid layout on every
version, and bench/run.py measures the baselines and reports missing stages without
crashing. Sizes are tiny; the real numbers come from ``bench/run.py --scale ...``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, VERSIONS, install_for

BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))

import make_cluster as mc  # noqa: E402

TINY = mc.Sizes(databases=2, roles=80, tables=60, schemas_per_db=3, hba_lines=120)


@pytest.fixture
def server_dir() -> Iterator[Path]:
    """A --data-dir the server's OS user can enter (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="pgaudit-bench-test-"))
    os.chmod(path, 0o755)
    try:
        yield path / "cluster"
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_presets_and_role_layout_add_up() -> None:
    assert mc.PRESETS["large"].roles == 20_000
    assert mc.PRESETS["large"].tables == 1_000_000
    assert mc.PRESETS["large"].databases == 50
    for s in (*mc.PRESETS.values(), TINY):
        layout = mc.role_layout(s)
        assert layout.total == s.roles
        assert layout.chains >= 1 and layout.logins > 0
    with pytest.raises(mc.BenchError, match="too few"):
        mc.validate(mc.Sizes(databases=10, roles=30, tables=10, schemas_per_db=1))


def test_hba_text_keeps_local_trust_first_and_reaches_the_size() -> None:
    text = mc.hba_text(mc.PRESETS["medium"], mc.role_layout(mc.PRESETS["medium"]))
    rules = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert rules[0].split() == ["local", "all", "all", "trust"]
    assert len(rules) >= mc.PRESETS["medium"].hba_lines - 1
    assert rules[-1].split()[-1] == "reject"


@pytest.mark.parametrize("major", VERSIONS, ids=[f"pg{v}" for v in VERSIONS])
def test_generator_builds_a_valid_layout(major: int, server_dir: Path) -> None:
    inst = install_for(major)
    cluster, report = mc.open_cluster(
        TINY, pg_bin=str(inst.bin_dir), data_dir=server_dir, jobs=2, say=lambda _m: None
    )
    try:
        import psycopg

        c = report.counts
        assert report.hba_errors == 0
        assert c["roles"] == TINY.roles
        assert c["tables"] == TINY.tables + len(mc.HOSTILE_NAMES)
        assert c["views"] >= TINY.tables // 10 and c["sequences"] == TINY.tables // 5
        assert c["default_acls"] > 0 and c["column_acls"] > 0
        assert c["hba_lines"] >= TINY.hba_lines
        with psycopg.connect(cluster.conninfo(dbname="saas_000")) as conn:
            # hostile names exist exactly as written, and some ACL has many grantees
            names = {r[0] for r in conn.execute("SELECT relname FROM pg_class")}
            assert set(mc.HOSTILE_NAMES) <= names
            widest = conn.execute("SELECT max(cardinality(relacl)) FROM pg_class").fetchone()
            assert widest is not None and widest[0] >= 6
            # the deepest chain: its bottom group reaches an app role through depth grants
            k = max(range(mc.role_layout(TINY).chains), key=mc.chain_depth)
            depth = conn.execute(
                """
                WITH RECURSIVE up(role, d) AS (
                  SELECT oid, 0 FROM pg_roles WHERE rolname = %s
                  UNION ALL SELECT m.roleid, up.d + 1 FROM up
                  JOIN pg_auth_members m ON m.member = up.role WHERE up.d < 20)
                SELECT max(d) FROM up""",
                (f"grp_{k}_l1",),
            ).fetchone()
            assert depth is not None and depth[0] >= mc.chain_depth(k) >= 5
        # the marker lets bench/run.py reuse the build; a different size is refused
        assert mc.read_marker(server_dir) is not None
    finally:
        cluster.stop(keep_dir=False)
    with pytest.raises(mc.BenchError, match="other sizes"):
        mc.open_cluster(
            mc.PRESETS["small"],
            pg_bin=str(inst.bin_dir),
            data_dir=server_dir,
            jobs=1,
            say=lambda _m: None,
        )


@pytest.mark.pg  # bench/run.py starts a server
def test_run_measures_baselines_and_prints_the_table(tmp_path: Path) -> None:
    install_for(18)
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH / "run.py"),
            "--databases",
            "1",
            "--roles",
            "60",
            "--tables",
            "80",
            "--schemas-per-db",
            "2",
            "--hba-lines",
            "60",
            "--output",
            str(out),
            "--stages",
            "floor,pg_dump,collect,check,report,scan",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "floor: psql COPY" in proc.stdout and "ratio ours/pg_dump" in proc.stdout
    doc = json.loads(out.read_text())
    stages = doc["stages"]
    for name in ("floor", "pg_dump"):
        assert stages[name]["status"] == "ok", stages[name]
        assert stages[name]["wall_s"] > 0 and stages[name]["peak_rss_mib"] > 1
        assert stages[name]["server_cpu_s"] >= 0
    assert stages["floor"]["detail"]["rows"] > 80
    for name in ("collect", "check", "report", "scan"):
        # our stages either ran, or their modules are not written yet; never a crash
        assert stages[name]["status"] in ("ok", "not available"), stages[name]
    if stages["scan"]["status"] == "ok":
        assert doc["targets"]["ours_s"] == stages["scan"]["wall_s"]
        assert doc["targets"]["ratio_ours_floor"] > 0
        assert stages["scan"]["peak_rss_mib"] > stages["floor"]["peak_rss_mib"] / 2
    assert set(doc["targets"]["checks"]) == {
        "scan <= 1.5 x floor + 10 s",
        "scan <= 0.5 x pg_dump",
        "peak RSS <= 1 GiB",
    }


def test_stage_child_reports_a_missing_module_as_not_available(tmp_path: Path) -> None:
    import run

    with pytest.raises(run.NotAvailable, match="does not exist yet"):
        run._need("pgaudit_roles.no_such_module_yet", "x")
    with pytest.raises(run.NotAvailable, match="no_such_function"):
        run._need("pgaudit_roles.collect.snapshot", "no_such_function")


def test_run_rejects_bad_arguments_with_one_line() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--stages", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "unknown stage 'nope'" in proc.stderr
    proc = subprocess.run(
        [sys.executable, str(BENCH / "make_cluster.py"), "--roles", "5"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "too few" in proc.stderr


def test_stage_selection() -> None:
    import run

    assert run.parse_args([]).stage_list == list(run.DEFAULT_STAGES)
    assert run.parse_args(["--stages", "all"]).stage_list == list(run.STAGES)
    assert run.parse_args(["--stages", "floor, scan"]).stage_list == ["floor", "scan"]
    with pytest.raises(SystemExit):
        run.parse_args(["--points", "--tables", "10"])  # points measure the presets only


def _stage(wall: float, rss: float = 100.0) -> dict[str, object]:
    return {"status": "ok", "wall_s": wall, "peak_rss_mib": rss}


def test_targets_per_preset() -> None:
    import run

    stages = {
        "floor": _stage(0.2),
        "pg_dump": _stage(0.5),
        "check": _stage(0.8),
        "scan": _stage(1.2, 300),
    }
    small = run.evaluate_targets(stages, "small")
    assert small["checks"] == {"scan <= 2 x pg_dump": "FAIL", "check < 1 s": "pass"}
    assert small["limits"]["scan <= 2 x pg_dump"] == pytest.approx(1.0)
    assert small["ratio_ours_pg_dump"] == pytest.approx(2.4)
    medium = run.evaluate_targets(stages, "medium")
    assert medium["checks"] == {"scan <= 1.5 x floor + 5 s": "pass"}
    assert medium["limits"]["scan <= 1.5 x floor + 5 s"] == pytest.approx(5.3)
    for scale in ("large", None, "given cluster"):
        large = run.evaluate_targets(stages, scale)
        assert large["target_preset"] == "large"
        assert set(large["checks"]) == {
            "scan <= 1.5 x floor + 10 s",
            "scan <= 0.5 x pg_dump",
            "peak RSS <= 1 GiB",
        }
        assert large["checks"]["scan <= 0.5 x pg_dump"] == "FAIL"
    missing = run.evaluate_targets({"scan": _stage(1.0)}, "small")
    assert missing["checks"] == {
        "scan <= 2 x pg_dump": "not available",
        "check < 1 s": "not available",
    }


def test_regression_check_reads_the_recorded_small_scan(tmp_path: Path) -> None:
    import run

    md = tmp_path / "RESULTS.md"
    md.write_text("text\n<!-- bench-baseline: small scan 2.00 s -->\nmore\n", encoding="utf-8")
    assert run.recorded_baseline(md.read_text()) == {"wall_s": 2.0}

    def result(
        ours: float | None, scale: str = "small", preset: bool = True, cpu: float | None = None
    ) -> dict:
        return {
            "cluster": {"scale": scale, "preset": preset},
            "targets": {"ours_s": ours},
            "stages": {"scan": {"client_cpu_s": cpu}},
        }

    assert run.regression_check(result(2.9), md)["status"] == "pass"
    flagged = run.regression_check(result(3.1), md)
    assert flagged["status"] == "REGRESSION" and flagged["factor"] == pytest.approx(1.55)
    assert flagged["basis"] == "wall"
    assert run.regression_check(result(9.0, "medium"), md) is None
    assert run.regression_check(result(9.0, preset=False), md) is None  # size overrides
    assert run.regression_check(result(None), md)["status"] == "not available"
    # with a recorded CPU time, CPU decides: a loaded machine stretches wall time only
    md.write_text("<!-- bench-baseline: small scan 2.00 s cpu 1.00 s -->\n", encoding="utf-8")
    assert run.recorded_baseline(md.read_text()) == {"wall_s": 2.0, "cpu_s": 1.0}
    slow_machine = run.regression_check(result(9.0, cpu=1.2), md)
    assert slow_machine["status"] == "pass" and slow_machine["basis"] == "CPU"
    assert run.regression_check(result(2.0, cpu=1.6), md)["status"] == "REGRESSION"
    assert run.regression_check(result(2.9), md)["basis"] == "wall"  # no CPU measured
    md.write_text("no recorded number\n", encoding="utf-8")
    assert run.regression_check(result(1.0), md)["status"] == "not available"
    # the repository's own RESULTS.md carries the line the check reads
    assert run.recorded_baseline(run.RESULTS_MD.read_text(encoding="utf-8")) is not None


def test_a_stage_process_imports_none_of_the_parents_modules() -> None:
    """A stage's wall time is what a user pays: bench/stage.py, not run.py with argparse,
    subprocess and make_cluster (~25 ms of imports before the scan could start)."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import stage; "
        "print(' '.join(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(BENCH)], capture_output=True, text=True, check=True
    )
    loaded = set(done.stdout.split())
    assert "stage" in loaded
    assert not loaded & {"run", "make_cluster", "argparse", "subprocess", "logging"}


def test_a_stage_runs_under_the_gc_settings_of_one_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the ``pgaudit-roles`` script and ``pipeline.run_scan`` (``core.gcpolicy``)."""
    import gc

    import stage

    from pgaudit_roles.core import gcpolicy

    seen: list[tuple[int, int, int]] = []
    monkeypatch.setitem(
        stage.STAGE_FUNCS, "scan", lambda spec: seen.append(gc.get_threshold()) or {}
    )
    before = gc.get_threshold()
    result = tmp_path / "r.json"
    try:
        stage.stage_child(json.dumps({"stage": "scan", "result": str(result)}))
    finally:
        gc.unfreeze()  # stage_child freezes at the end, as the script's exit does
    assert seen == [(gcpolicy.YOUNG, gcpolicy.OLDER, gcpolicy.OLDER)]
    assert gc.get_threshold() == before
    assert json.loads(result.read_text())["status"] == "ok"
