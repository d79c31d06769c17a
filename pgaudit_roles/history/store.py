"""The history store on disk: a directory of Parquet files, one file per run and table.

Layout (every file is ``<run_id>.parquet``)::

    DIR/runs/       one row per run: target, time, versions, gate, counts, coverage gaps
    DIR/findings/   the run's findings: fingerprint, rule, severity, object, status
    DIR/rules/      each rule's status in the run and the sources it requires
    DIR/coverage/   what the run did not look at (sources and databases, with the reason)

Why this shape: it needs no server (DuckDB, Spark or Trino read ``DIR/*/*.parquet``
from a disk or an object store), appends never rewrite an earlier file (so two cron jobs
or a fleet's parallel targets can record at once), and each file is written with DuckDB's
``COPY ... TO ... (FORMAT parquet)`` to a temporary name and renamed into place. The
``runs`` file is renamed last: it commits the run, and readers ignore findings, rules and
coverage files whose run has no ``runs`` file (a run cut short by a crash).

``rules`` and ``coverage`` exist so that a later comparison can tell "fixed" from "not
looked at": the same semantics as ``diff`` (pgaudit_roles.diffing).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..core.atomic import current_umask
from ..core.errors import UsageError
from ..core.model import SEVERITIES, STATUSES

FORMAT_VERSION = 1
TABLES: tuple[str, ...] = ("findings", "rules", "coverage", "runs")
"""In write order: ``runs`` last, because its file is what makes the run exist."""

ORPHAN_AGE = dt.timedelta(days=1)
"""A findings/rules/coverage file without its run (or a temporary file) older than this
is the remains of a crashed write and is removed by retention; younger ones may be a
write in progress in another process."""

COLUMNS: dict[str, list[tuple[str, str]]] = {
    "runs": [
        ("run_id", "VARCHAR"),
        ("format_version", "INTEGER"),
        ("target", "VARCHAR"),
        ("started_at", "TIMESTAMP"),
        ("recorded_at", "TIMESTAMP"),
        ("duration_seconds", "DOUBLE"),
        ("tool_version", "VARCHAR"),
        ("server_version", "VARCHAR"),
        ("server_version_num", "INTEGER"),
        ("framework", "VARCHAR"),
        ("fail_on", "VARCHAR"),
        ("gate", "VARCHAR"),
        ("findings_total", "INTEGER"),
        ("open_critical", "INTEGER"),
        ("open_high", "INTEGER"),
        ("open_medium", "INTEGER"),
        ("open_low", "INTEGER"),
        ("open_info", "INTEGER"),
        ("waived", "INTEGER"),
        ("accepted", "INTEGER"),
        ("gating", "INTEGER"),
        ("rules_pass", "INTEGER"),
        ("rules_fail", "INTEGER"),
        ("rules_incomplete", "INTEGER"),
        ("rules_skipped", "INTEGER"),
        ("rules_error", "INTEGER"),
        ("coverage_gaps", "INTEGER"),
        ("labels", "VARCHAR"),
    ],
    "findings": [
        ("run_id", "VARCHAR"),
        ("target", "VARCHAR"),
        ("fingerprint", "VARCHAR"),
        ("rule_id", "VARCHAR"),
        ("severity", "VARCHAR"),
        ("status", "VARCHAR"),
        ("database", "VARCHAR"),
        ("object_type", "VARCHAR"),
        ("object_identity", "VARCHAR"),
        ("role", "VARCHAR"),
        ("message", "VARCHAR"),
        ("evidence_digest", "VARCHAR"),
    ],
    "rules": [
        ("run_id", "VARCHAR"),
        ("target", "VARCHAR"),
        ("rule_id", "VARCHAR"),
        ("status", "VARCHAR"),
        ("reason", "VARCHAR"),
        ("severity", "VARCHAR"),
        ("category", "VARCHAR"),
        ("requires", "VARCHAR[]"),
    ],
    "coverage": [
        ("run_id", "VARCHAR"),
        ("target", "VARCHAR"),
        ("source", "VARCHAR"),
        ("database", "VARCHAR"),
        ("status", "VARCHAR"),
        ("reason", "VARCHAR"),
    ],
}
"""Each table's columns and DuckDB types: the store's documented contract."""

FINDING_STATUSES = ("open", "waived", "accepted")
"""``open``: gates; ``waived``: an active waiver covers it; ``accepted``: the baseline
holds it unchanged."""


@dataclass
class Run:
    """One scan of one target, as the store keeps it (built by :func:`run_from_result`)."""

    target: str
    started_at: dt.datetime  # UTC, naive
    summary: dict[str, Any]
    findings: list[dict[str, Any]] = field(default_factory=list)
    rules: list[dict[str, Any]] = field(default_factory=list)
    coverage: list[dict[str, Any]] = field(default_factory=list)
    run_id: str = ""


@dataclass(frozen=True)
class Retention:
    """Keep runs younger than ``days``, or each target's last ``runs`` runs."""

    days: int | None = None
    runs: int | None = None

    def __str__(self) -> str:
        return f"{self.days}d" if self.days is not None else f"{self.runs} runs"


_RETENTION = re.compile(r"^\s*(\d+)\s*(d|days?|runs?)\s*$", re.I)


def parse_retention(spec: str | int | None, origin: str = "--history-keep") -> Retention | None:
    """``"90d"`` (days) or ``"30 runs"`` (per target); None keeps everything."""
    if spec is None or spec == "":
        return None
    m = _RETENTION.match(str(spec))
    if isinstance(spec, bool) or not m or int(m.group(1)) < 1:
        raise UsageError(
            f"{origin}: {spec!r} is not a retention: give days ('90d') or a "
            "number of runs per target ('30 runs'), at least 1"
        )
    n = int(m.group(1))
    return Retention(days=n) if m.group(2).lower().startswith("d") else Retention(runs=n)


def _utc(value: Any) -> dt.datetime:
    """A naive UTC datetime from an ISO string or datetime (now when missing/invalid)."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            value = None
    if not isinstance(value, dt.datetime):
        return dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def run_from_result(
    result: Any,
    *,
    target: str,
    duration_seconds: float | None = None,
    labels: dict[str, str] | None = None,
    started_at: dt.datetime | str | None = None,
) -> Run:
    """A :class:`Run` from a ScanResult (``scan``, ``check`` or a fleet target)."""

    meta = result.meta
    findings = []
    for f in result.findings:
        status = (
            "waived"
            if f.suppressed is not None
            else "accepted"
            if f.baseline == "unchanged"
            else "open"
        )
        findings.append(
            {
                "fingerprint": f.fingerprint,
                "rule_id": f.rule_id,
                "severity": f.severity,
                "status": status,
                "database": f.database,
                "object_type": f.object_type,
                "object_identity": f.object_identity or f.object_name,
                "role": f.role,
                "message": f.message,
                "evidence_digest": f.evidence_digest,
            }
        )
    rules = [
        {
            "rule_id": r.rule.id,
            "status": r.status,
            "reason": r.reason,
            "severity": r.effective_severity,
            "category": r.rule.category,
            "requires": list(r.rule.requires),
        }
        for r in result.results
    ]
    coverage = [
        {
            "source": str(c.get("source")),
            "database": c.get("database"),
            "status": str(c.get("status")),
            "reason": c.get("reason"),
        }
        for c in meta.get("coverage") or []
        if c.get("status") != "collected"
    ]
    by_status = dict.fromkeys(STATUSES, 0)
    for r in result.results:
        by_status[r.status] = by_status.get(r.status, 0) + 1
    open_by = dict.fromkeys(SEVERITIES, 0)
    for f in findings:
        if f["status"] != "waived":
            open_by[f["severity"]] += 1
    summary: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "duration_seconds": duration_seconds,
        "tool_version": __version__,
        "server_version": meta.get("server_version"),
        "server_version_num": meta.get("server_version_num"),
        "framework": meta.get("framework"),
        "fail_on": result.fail_on,
        "gate": "fail" if result.gating_findings() else "pass",
        "findings_total": len(findings),
        **{f"open_{s}": open_by[s] for s in SEVERITIES},
        "waived": sum(f["status"] == "waived" for f in findings),
        "accepted": sum(f["status"] == "accepted" for f in findings),
        "gating": len(result.gating_findings()),
        **{f"rules_{s}": by_status.get(s, 0) for s in STATUSES},
        "coverage_gaps": sum(c["status"] == "not_collected" for c in coverage),
        "labels": json.dumps(labels or {}, sort_keys=True, ensure_ascii=False),
    }
    return Run(
        target=target,
        started_at=_utc(started_at or meta.get("collected_at")),
        summary=summary,
        findings=findings,
        rules=rules,
        coverage=coverage,
    )


def new_run_id(run: Run) -> str:
    """Sortable by time, unique across processes, and safe as a file name whatever the
    target is called (the name is hashed, never used in a path)."""
    import hashlib  # with secrets, ~3 ms of import only a run that records history needs
    import secrets

    digest = hashlib.sha256(run.target.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{run.started_at:%Y%m%dT%H%M%S%f}Z-{digest}-{secrets.token_hex(4)}"


def record(run: Run, directory: str | os.PathLike[str], retention: Retention | None = None) -> str:
    """Append ``run`` to the store at ``directory`` (created if missing), then apply
    ``retention``; return the run id. A failure leaves no visible part of the run."""
    import duckdb

    root = Path(directory)
    try:
        for table in TABLES:
            (root / table).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create history directory {root}: {exc.strerror or exc}") from None
    run.run_id = run.run_id or new_run_id(run)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = {
        "runs": [
            {
                **run.summary,
                "run_id": run.run_id,
                "target": run.target,
                "started_at": run.started_at,
                "recorded_at": now,
            }
        ],
        "findings": run.findings,
        "rules": run.rules,
        "coverage": run.coverage,
    }
    con = duckdb.connect()
    written: list[Path] = []
    try:
        for table in TABLES:
            common = {"run_id": run.run_id, "target": run.target}
            path = root / table / f"{run.run_id}.parquet"
            _write_table(con, table, [{**r, **common} for r in rows[table]], path)
            written.append(path)
    except (OSError, duckdb.Error) as exc:
        for path in reversed(written):  # the runs file is last: nothing was committed
            with contextlib.suppress(OSError):
                path.unlink()
        msg = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
        raise UsageError(f"cannot write history {root}: {msg}") from None
    finally:
        con.close()
    if retention is not None:
        apply_retention(root, retention, now=now)
    return run.run_id


def _literal(text: str) -> str:
    """A DuckDB string literal (COPY takes no parameter for its file name)."""
    return "'" + text.replace("'", "''") + "'"


def _write_table(con: Any, table: str, rows: Sequence[dict[str, Any]], path: Path) -> None:
    """``rows`` -> ``path`` via a column-wise table and ``COPY ... TO`` a temporary file in
    the same directory, fsync, then rename (atomic on one filesystem)."""
    import tempfile

    cols = COLUMNS[table]
    params = {f"c{i}": [r.get(name) for r in rows] for i, (name, _) in enumerate(cols)}
    select = ", ".join(f"unnest($c{i}::{typ}[]) AS {name}" for i, (name, typ) in enumerate(cols))
    con.execute(f"CREATE OR REPLACE TEMP TABLE w_{table} AS SELECT {select}", params)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        con.execute(f"COPY w_{table} TO {_literal(tmp)} (FORMAT parquet)")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


# --- reading ----------------------------------------------------------------------------------


@dataclass
class Store:
    """The committed runs of a store (``runs`` rows, oldest first) and a DuckDB connection
    with views ``runs``, ``findings``, ``rules`` and ``coverage`` over their files."""

    root: Path
    runs: list[dict[str, Any]]
    con: Any

    def close(self) -> None:
        self.con.close()

    def rows(self, table: str, run_ids: Iterable[str]) -> list[dict[str, Any]]:
        ids = list(run_ids)
        if table not in COLUMNS:
            raise ValueError(f"unknown history table {table!r}")
        if not ids:
            return []
        sql = f"SELECT * FROM {table} WHERE run_id IN (SELECT unnest($ids))"  # noqa: S608 - a COLUMNS name
        import duckdb

        try:
            cur = self.con.execute(sql, {"ids": ids})
        except duckdb.Error as exc:
            raise UsageError(
                f"{self.root}: cannot read the history store's {table}: {str(exc).splitlines()[0]}"
            ) from None
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _files(root: Path, table: str) -> list[Path]:
    d = root / table
    return (
        sorted(p for p in d.glob("*.parquet") if not p.name.startswith(".")) if d.is_dir() else []
    )


def load(directory: str | os.PathLike[str]) -> Store:
    """Open the store at ``directory`` for reading (exit 2 when it is not one)."""
    import duckdb

    root = Path(directory)
    if not (root / "runs").is_dir():
        what = "does not exist" if not root.exists() else "has no runs/ directory"
        raise UsageError(
            f"{root}: not a pgaudit-roles history store ({what}; record runs "
            "with `scan --history DIR`)"
        )
    for attempt in range(3):
        try:
            return _open(root)
        except duckdb.IOException:  # a file removed by a writer's retention meanwhile
            if attempt == 2:
                raise UsageError(
                    f"{root}: the history store kept changing while read; try again"
                ) from None
    raise AssertionError("unreachable")


def _open(root: Path) -> Store:
    import duckdb

    committed = {p.stem for p in _files(root, "runs")}
    con = duckdb.connect()
    try:
        for table, cols in COLUMNS.items():
            files = [str(p) for p in _files(root, table) if p.stem in committed]
            if files:
                listed = ", ".join(_literal(f) for f in files)  # quoted file names
                con.execute(
                    f"CREATE VIEW {table} AS SELECT * FROM read_parquet("  # noqa: S608
                    f"[{listed}], union_by_name = true)"
                )
            else:
                empty = ", ".join(f"NULL::{typ} AS {name}" for name, typ in cols)
                con.execute(f"CREATE VIEW {table} AS SELECT {empty} WHERE false")
        cur = con.execute("SELECT * FROM runs ORDER BY started_at, run_id")
        names = [d[0] for d in cur.description]
        runs = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    except duckdb.IOException:
        con.close()
        raise
    except duckdb.Error as exc:
        con.close()
        raise UsageError(
            f"{root}: cannot read the history store: {str(exc).splitlines()[0]}"
        ) from None
    return Store(root=root, runs=runs, con=con)


# --- retention --------------------------------------------------------------------------------

_RUN_ID = re.compile(r"^(\d{8}T\d{12})Z-([0-9a-f]+)-[0-9a-f]+$")


def _parse_run_id(run_id: str) -> tuple[dt.datetime, str] | None:
    """(started_at, target hash) from a run id, or None for a name this store did not make."""
    m = _RUN_ID.match(run_id)
    if not m:
        return None
    try:
        return dt.datetime.strptime(m.group(1), "%Y%m%dT%H%M%S%f"), m.group(2)
    except ValueError:
        return None


def apply_retention(
    root: Path, retention: Retention, *, now: dt.datetime | None = None
) -> list[str]:
    """Remove the runs ``retention`` no longer keeps (the ``runs`` file first, so a reader
    never sees half a run), and crashed writes' leftovers; return the removed run ids.

    Decided from the file names alone (a run id holds its time and its target's hash), so
    parallel writers applying retention at once never read a file another one removes."""
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    runs = [
        (p.stem, parsed)
        for p in _files(root, "runs")
        if (parsed := _parse_run_id(p.stem)) is not None
    ]
    drop: set[str] = set()
    if retention.days is not None:
        cutoff = now - dt.timedelta(days=retention.days)
        drop |= {rid for rid, (at, _) in runs if at < cutoff}
    if retention.runs is not None:
        by_target: dict[str, list[tuple[dt.datetime, str]]] = {}
        for rid, (at, target) in runs:
            by_target.setdefault(target, []).append((at, rid))
        for items in by_target.values():
            items.sort()
            drop |= {rid for _, rid in items[: -retention.runs]}
    for run_id in sorted(drop):
        for table in reversed(TABLES):  # runs first
            with contextlib.suppress(FileNotFoundError):
                (root / table / f"{run_id}.parquet").unlink()
    _remove_orphans(root, now)
    return sorted(drop)


def _remove_orphans(root: Path, now: dt.datetime) -> None:
    committed = {p.stem for p in _files(root, "runs")}
    old = (now - ORPHAN_AGE).replace(tzinfo=dt.UTC).timestamp()
    for table in TABLES:
        d = root / table
        for p in d.iterdir() if d.is_dir() else ():
            stale = p.name.startswith(".") and p.name.endswith(".tmp")
            orphan = p.suffix == ".parquet" and table != "runs" and p.stem not in committed
            with contextlib.suppress(OSError):
                if (stale or orphan) and p.stat().st_mtime < old:
                    p.unlink()
