"""The history store and its trend, as pure logic: synthetic runs, no server.

Runs are recorded with explicit times so new/resolved counts, time-to-fix and the
longest-open ages are known exactly; a database the later run could not read makes its
findings unknown, never resolved; retention by days and by runs drops exactly the old
runs; a crashed write (files without their ``runs`` file) is invisible.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import duckdb
import pytest
from cli_support import run_cli

from pgaudit_roles.core.errors import UsageError
from pgaudit_roles.core.model import Finding, Rule, RuleResult, ScanResult
from pgaudit_roles.history import Retention, parse_retention, record, run_from_result
from pgaudit_roles.history import store as store_mod
from pgaudit_roles.history.trend import build

T0 = dt.datetime(2026, 1, 1, 2, 0, 0)
DAY = dt.timedelta(days=1)
HOSTILE = 'prod "db"\n<script>alert(1)</script> \u202eevil\\'


def _rule(rid: str, severity: str = "high", requires: tuple[str, ...] = ("objects",)) -> Rule:
    return Rule(
        id=rid,
        title=rid,
        severity=severity,
        category="privileges",
        rationale="r",
        query="SELECT 1",
        message="m",
        requires=requires,
    )


RULES = {
    "A": _rule("PGR-T-A"),
    "B": _rule("PGR-T-B", "critical"),
    "C": _rule("PGR-T-C", "low", requires=("hba_rules",)),
}


def result(
    findings: list[tuple[str, str, str]],
    *,
    gaps: dict[str, str] | None = None,
    missing_sources: tuple[str, ...] = (),
    waived: tuple[str, ...] = (),
    skipped: tuple[str, ...] = (),
) -> ScanResult:
    """findings: (rule key, database, object); gaps: database -> reason."""
    results = []
    for key, rule in RULES.items():
        fs = [
            Finding(
                rule_id=rule.id,
                severity=rule.severity,
                message=f"{rule.id} on {obj}",
                database=db,
                object_type="table",
                object_identity=obj,
                suppressed={"kind": "waiver"} if obj in waived else None,
            )
            for k, db, obj in findings
            if k == key
        ]
        status = "skipped" if key in skipped else ("fail" if fs else "pass")
        results.append(
            RuleResult(rule=rule, status=status, findings=fs if status != "skipped" else [])
        )
    coverage = [
        {"source": "database", "database": db, "status": "not_collected", "reason": why}
        for db, why in (gaps or {}).items()
    ]
    coverage += [
        {"source": s, "database": None, "status": "not_collected", "reason": "no privilege"}
        for s in missing_sources
    ]
    return ScanResult(
        meta={"coverage": coverage, "server_version": "16.4", "server_version_num": 160004},
        results=results,
    )


def rec(
    store: Path,
    res: ScanResult,
    when: dt.datetime,
    target: str = "t1",
    retention: Retention | None = None,
) -> str:
    return record(
        run_from_result(res, target=target, started_at=when, duration_seconds=1.5), store, retention
    )


def trend_of(store: Path, **kw):
    s = store_mod.load(store)
    try:
        return build(s, **kw)
    finally:
        s.close()


def test_trend_numbers_exact_and_unknown_is_not_resolved(tmp_path):
    st = tmp_path / "hist"
    # run 1: A on x and y (high), B on z (critical)
    rec(st, result([("A", "db1", "x"), ("A", "db1", "y"), ("B", "db2", "z")]), T0)
    # run 2 (+1 day): x fixed (resolved), C new; db2 unreadable: z is unknown, not resolved
    rec(
        st,
        result([("A", "db1", "y"), ("C", "db1", "h")], gaps={"db2": "permission denied"}),
        T0 + DAY,
    )
    # run 3 (+3 days): db2 readable again and z is gone: resolved now, after 3 days;
    # y still open; a waived finding w counts as waived, not open
    rec(
        st,
        result([("A", "db1", "y"), ("C", "db1", "h"), ("A", "db1", "w")], waived=("w",)),
        T0 + 3 * DAY,
    )
    # run 4 (+4 days): pg_hba not collected: C unknown; new A on v
    rec(
        st,
        result(
            [("A", "db1", "y"), ("A", "db1", "v"), ("A", "db1", "w")],
            missing_sources=("hba_rules",),
            waived=("w",),
        ),
        T0 + 4 * DAY,
    )

    (t,) = trend_of(st).targets
    assert t.target == "t1"
    assert [r.counts for r in t.runs] == [
        {"critical": 1, "high": 2, "medium": 0, "low": 0, "info": 0},
        {"critical": 0, "high": 1, "medium": 0, "low": 1, "info": 0},
        {"critical": 0, "high": 1, "medium": 0, "low": 1, "info": 0},
        {"critical": 0, "high": 2, "medium": 0, "low": 0, "info": 0},
    ]
    assert [r.waived for r in t.runs] == [0, 0, 1, 1]
    assert [r.first for r in t.runs] == [True, False, False, False]
    summary = [
        (
            [f["object_identity"] for f in r.new],
            [f["object_identity"] for f in r.resolved],
            [(f["object_identity"], f["present_in"]) for f in r.unknown],
        )
        for r in t.runs
    ]
    assert summary == [
        ([], [], []),
        (["h"], ["x"], [("z", "old")]),
        (["w"], ["z"], []),
        (["v"], [], [("h", "old")]),
    ]
    assert "database db2 not collected" in t.runs[1].unknown[0]["why"]
    assert "hba_rules not collected" in t.runs[3].unknown[0]["why"]
    # time to fix: x took 1 day, z 3 days (both open since the first run: a lower bound)
    ttf = {x["rule_id"]: x for x in t.time_to_fix}
    assert ttf["PGR-T-A"]["fixed"] == 1 and ttf["PGR-T-A"]["median_seconds"] == 86400
    assert ttf["PGR-T-B"]["fixed"] == 1 and ttf["PGR-T-B"]["max_seconds"] == 3 * 86400
    assert ttf["PGR-T-B"]["at_least"] is True
    # longest open at run 4: y (4 days, since the first run), h (3 days, carried while
    # unknown), v (0 days); w is waived and not listed
    longest = [(f["object_identity"], f["open_seconds"], f["at_least"]) for f in t.longest_open]
    assert longest == [("y", 4 * 86400, True), ("h", 3 * 86400, False), ("v", 0, False)]


def test_new_is_unknown_when_the_previous_run_did_not_look(tmp_path):
    st = tmp_path / "hist"
    rec(st, result([], gaps={"db2": "connection refused"}), T0)
    rec(st, result([("A", "db2", "q"), ("A", "db1", "n")]), T0 + DAY)
    rec(st, result([("A", "db2", "q")], skipped=("A",)), T0 + 2 * DAY)
    (t,) = trend_of(st).targets
    assert [f["object_identity"] for f in t.runs[1].new] == ["n"]
    assert [(f["object_identity"], f["present_in"]) for f in t.runs[1].unknown] == [("q", "new")]
    # rule A skipped in run 3: neither q nor n is resolved
    assert t.runs[2].resolved == []
    assert sorted(f["object_identity"] for f in t.runs[2].unknown) == ["n", "q"]
    assert "PGR-T-A skipped" in t.runs[2].unknown[0]["why"]


def test_since_filters_runs_but_keeps_first_seen(tmp_path):
    st = tmp_path / "hist"
    rec(st, result([("A", "db1", "x")]), T0)
    rec(st, result([("A", "db1", "x"), ("A", "db1", "y")]), T0 + DAY)
    rec(st, result([("A", "db1", "y")]), T0 + 2 * DAY)
    (t,) = trend_of(st, since=T0 + DAY + dt.timedelta(hours=1)).targets
    assert [r.started_at for r in t.runs] == [T0 + 2 * DAY]
    assert [f["object_identity"] for f in t.runs[0].resolved] == ["x"]
    assert t.time_to_fix[0]["median_seconds"] == 2 * 86400
    assert [(f["object_identity"], f["open_seconds"]) for f in t.longest_open] == [("y", 86400)]


def test_targets_are_separate_and_hostile_names_stay_data(tmp_path):
    st = tmp_path / "hist"
    rec(st, result([("A", "db1", "x")]), T0, target=HOSTILE)
    rec(st, result([]), T0 + DAY, target=HOSTILE)
    rec(st, result([("B", "db1", "x")]), T0, target="other")
    tr = trend_of(st)
    assert sorted(t.target for t in tr.targets) == sorted([HOSTILE, "other"])
    (mine,) = (t for t in tr.targets if t.target == HOSTILE)
    assert len(mine.runs[1].resolved) == 1
    # file names never carry the target
    assert all(HOSTILE not in p.name and "<" not in p.name for p in st.rglob("*"))
    # the store is plain Parquet: DuckDB reads it without this tool
    con = duckdb.connect()
    got = con.execute(
        f"SELECT DISTINCT target FROM read_parquet('{st}/runs/*.parquet') ORDER BY 1"
    ).fetchall()
    assert got == sorted([(HOSTILE,), ("other",)])
    assert con.execute(
        f"SELECT count(*) FROM read_parquet('{st}/findings/*.parquet')"
    ).fetchone() == (2,)


def test_retention_by_runs_and_days(tmp_path):
    st = tmp_path / "hist"
    for i in range(4):
        rec(st, result([("A", "db1", f"o{i}")]), T0 + i * DAY)
    rec(st, result([]), T0, target="other")
    rec(st, result([("A", "db1", "o9")]), T0 + 5 * DAY, retention=Retention(runs=2))
    s = store_mod.load(st)
    try:
        kept = [(r["target"], r["started_at"]) for r in s.runs]
    finally:
        s.close()
    assert kept == [("other", T0), ("t1", T0 + 3 * DAY), ("t1", T0 + 5 * DAY)]
    # every table lost the dropped runs' files
    for table in store_mod.TABLES:
        assert len(list((st / table).glob("*.parquet"))) == 3
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rec(st, result([]), now - dt.timedelta(days=40), target="old")
    rec(st, result([]), now - dt.timedelta(days=1), target="fresh", retention=Retention(days=30))
    s = store_mod.load(st)
    try:
        assert sorted({r["target"] for r in s.runs}) == ["fresh"]
    finally:
        s.close()


def test_a_crashed_write_is_invisible_and_cleaned_later(tmp_path):
    st = tmp_path / "hist"
    rec(st, result([("A", "db1", "x")]), T0)
    # a run whose findings were written but whose runs file never was
    crashed = store_mod.Run(
        target="t1",
        started_at=T0 + DAY,
        summary={},
        findings=[{"fingerprint": "f", "rule_id": "PGR-T-A"}],
    )
    crashed.run_id = "crashed"
    con = duckdb.connect()
    store_mod._write_table(
        con,
        "findings",
        [{"run_id": "crashed", "fingerprint": "f"}],
        st / "findings" / "crashed.parquet",
    )
    con.close()
    (t,) = trend_of(st).targets
    assert len(t.runs) == 1
    old = (dt.datetime.now() - 2 * DAY).timestamp()
    os.utime(st / "findings" / "crashed.parquet", (old, old))
    rec(st, result([]), T0 + 2 * DAY, retention=Retention(runs=10))
    assert not (st / "findings" / "crashed.parquet").exists()


def test_write_failure_leaves_nothing(tmp_path, monkeypatch):
    st = tmp_path / "hist"
    rec(st, result([]), T0)
    real = os.replace

    def full_disk(src, dst):  # the commit step (the runs file) fails
        if "/runs/" in str(dst):
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(UsageError, match="cannot write history .*No space left"):
        rec(st, result([("A", "db1", "x")]), T0 + DAY)
    monkeypatch.undo()
    for table in store_mod.TABLES:  # the failed run's findings, rules, coverage are gone
        assert len(list((st / table).glob("*.parquet"))) == 1
    assert not [p for p in st.rglob("*") if p.name.endswith(".tmp")]
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="cannot create history directory"):
        rec(tmp_path / "file", result([]), T0)


@pytest.mark.parametrize(
    "spec,want",
    [
        ("90d", Retention(days=90)),
        ("7 days", Retention(days=7)),
        ("30 runs", Retention(runs=30)),
        ("1run", Retention(runs=1)),
    ],
)
def test_parse_retention(spec, want):
    assert parse_retention(spec) == want


@pytest.mark.parametrize("spec", ["0d", "ninety", "-3 runs", "5 weeks", True])
def test_parse_retention_rejects(spec):
    with pytest.raises(UsageError, match="not a retention"):
        parse_retention(spec)


def test_history_command_formats_and_bad_input(tmp_path, capsys):
    st = tmp_path / "hist"
    rec(
        st,
        result([("A", "db1", "x"), ("B", "db1", "<img src=x onerror=alert(1)>")]),
        T0,
        target=HOSTILE,
    )
    rec(st, result([("B", "db1", "<img src=x onerror=alert(1)>")]), T0 + DAY, target=HOSTILE)

    code, out, err = run_cli(["history", str(st)], capsys)
    assert code == 0, err
    assert "\\n<script>" in out and "\u202e" not in out  # one line, bidi shown escaped
    assert "2026-01-02 02:00  RESOLVED high     PGR-T-A" in out

    code, out, err = run_cli(["history", str(st), "--format", "json", "--target", HOSTILE], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["targets"][0]["target"] == HOSTILE
    assert [len(r["resolved"]) for r in doc["targets"][0]["runs"]] == [0, 1]
    first = doc["targets"][0]["runs"][0]
    assert (first["server_version"], first["duration_seconds"]) == ("16.4", 1.5)

    html = tmp_path / "h.html"
    code, _, err = run_cli(["history", str(st), "--format", "html", "-o", str(html)], capsys)
    assert code == 0, err
    text = html.read_text()
    assert "<script>alert" not in text and "<img src=x" not in text
    assert text.count("<svg") == 2

    bad = tmp_path / "bad"
    rec(bad, result([("A", "db1", "x")]), T0)
    next((bad / "findings").glob("*.parquet")).write_bytes(b"PAR1 not really")
    (tmp_path / "plain").mkdir()
    for args, msg in [
        (["history", str(tmp_path / "nope")], "not a pgaudit-roles history store"),
        (["history", str(tmp_path / "plain")], "has no runs/ directory"),
        (["history", str(bad)], "cannot read the history store"),
        (["history", str(st), "--since", "yesterday"], "not a date"),
        (["history", str(st), "--target", "nobody"], "no runs of target"),
    ]:
        code, out, err = run_cli(args, capsys)
        assert code == 2 and msg in err and len(err.strip().splitlines()) == 1, (args, err)


def test_scans_within_one_second_keep_their_order(tmp_path):
    """Eight scans whose snapshots were all collected in the same whole second (the
    snapshot's ``collected_at`` has no fraction) are listed in the order they ran, with the
    turnover between consecutive runs. Recorded by their ``collected_at`` alone they tie,
    and the random tail of the run id decides the order: 1 chance in 40,320 to pass."""
    from types import SimpleNamespace

    from pgaudit_roles.commands._shared import _record_history

    second = dt.datetime(2026, 12, 5, 12, 0, 0, tzinfo=dt.UTC)
    cfg = SimpleNamespace(history={"dir": str(tmp_path / "h"), "keep": None})
    for i in range(8):
        res = result([("A", "db", f"t{j}") for j in range(i + 1)])  # one more finding a run
        res.meta.update(target_name="t1", collected_at=second.isoformat())
        _record_history(res, cfg, 0.5, second + dt.timedelta(microseconds=1000 * (i + 1)))
    (target,) = trend_of(tmp_path / "h").targets
    assert [r.started_at.microsecond for r in target.runs] == [1000 * (i + 1) for i in range(8)]
    assert [r.total for r in target.runs] == list(range(1, 9))
    assert [len(r.new) for r in target.runs[1:]] == [1] * 7
    assert [len(r.resolved) for r in target.runs[1:]] == [0] * 7


def test_a_snapshot_from_a_file_keeps_the_time_it_was_collected(tmp_path):
    """``check`` of a snapshot collected yesterday is recorded at that time, not now."""
    from types import SimpleNamespace

    from pgaudit_roles.commands._shared import _record_history

    cfg = SimpleNamespace(history={"dir": str(tmp_path / "h"), "keep": None})
    res = result([("A", "db", "t")])
    res.meta.update(target_name="t1", collected_at="2026-12-04T08:30:00+00:00")
    _record_history(res, cfg, 0.5, dt.datetime(2026, 12, 5, 12, 0, 0, 123456, tzinfo=dt.UTC))
    ((run,),) = (t.runs for t in trend_of(tmp_path / "h").targets)
    assert run.started_at == dt.datetime(2026, 12, 4, 8, 30, 0)
