"""One fleet target, audited in a child process: the ``scan`` pipeline, nothing else.

Why a process per target rather than a thread: the supervisor must be able to stop one
target at its timeout (a thread cannot be killed; a process is sent SIGTERM, which
unwinds it like Ctrl-C: statements cancelled, sessions closed, spool files removed),
one target's memory (snapshot spool, DuckDB) is returned to the system when it ends, a
crash in one target cannot take the fleet down, and DuckDB evaluation of several
targets uses several cores.

The child receives the already validated configuration and rules (pickled: nothing is
re-validated, and an inventory or rule error has stopped the run before any child
started), writes the target's own reports and snapshot into its directory, and sends
back a small :class:`Payload`: the ScanResult without its inventory facts.
"""

from __future__ import annotations

import resource
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..collect.snapshot import save
from ..core.errors import AuditError, CollectionError
from ..core.gcpolicy import for_one_command
from ..core.signals import install
from ..pipeline import collect_snapshot, evaluate_snapshot, write_files
from ..twin.verify import unverified

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from ..config import Config
    from ..core.model import Rule, ScanResult
    from .inventory import Target

SNAPSHOT_NAME = "snapshot.json.gz"


@dataclass
class Job:
    """Everything a child needs; picklable."""

    target: Target
    cfg: Config
    rules: list[Rule]
    formats: list[str]
    directory: Path  # the target's own directory (absolute)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Payload:
    status: str  # audited | unreachable | error
    reason: str | None = None
    result: ScanResult | None = None
    reports: dict[str, str] = field(default_factory=dict)
    snapshot: str | None = None
    duration_s: float = 0.0
    peak_rss_kb: int = 0


def child_main(job: Job, conn: Connection) -> None:
    """Entry point of the child process. Ctrl-C is the supervisor's to handle (the whole
    terminal process group gets SIGINT): the child ignores it and stops on the SIGTERM
    the supervisor sends, which ``signals`` turns into a clean unwind."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    install()
    if job.target.service_file:
        import os

        os.environ["PGSERVICEFILE"] = job.target.service_file
    try:
        with for_one_command():  # the child is one scan: the CLI's collector settings
            payload = audit(job)
    except KeyboardInterrupt:  # signals.Terminated: the supervisor stopped us
        conn.close()
        raise SystemExit(143) from None
    except BaseException as exc:  # a bug: this target's outcome, not the fleet's end
        reason = " ".join(f"internal error: {type(exc).__name__}: {exc}".split())[:500]
        payload = Payload(status="error", reason=reason)
    payload.peak_rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        conn.send(payload)
    finally:
        conn.close()


def audit(job: Job) -> Payload:
    """Collect, save the snapshot, evaluate, write the target's reports."""

    t0 = time.monotonic()
    job.directory.mkdir(parents=True, exist_ok=True)
    try:
        snap = collect_snapshot(job.target.conninfo, job.cfg)
    except CollectionError as exc:
        return Payload(
            status="unreachable", reason=_line(str(exc)), duration_s=time.monotonic() - t0
        )
    except AuditError as exc:
        return Payload(status="error", reason=_line(str(exc)), duration_s=time.monotonic() - t0)
    try:
        snapshot_path = job.directory / SNAPSHOT_NAME
        save(snap, snapshot_path)
        result = evaluate_snapshot(snap, job.rules, job.cfg)
        result.meta["target_label"] = job.target.name
        result.meta["target_name"] = job.target.name  # the history's and metrics' name
        result.meta["fleet_target"] = job.target.attributes()
        result.meta["fleet_status"] = "audited"
        options = dict(job.options)
        if "sql" in job.formats:
            options["sql_verification"] = unverified(
                options.get("sql_level") or "safe",
                "fleet runs do not build twins; verify one target with `scan --verify`",
            )
        paths = write_files(result, job.formats, job.directory, options)
    except AuditError as exc:
        return Payload(status="error", reason=_line(str(exc)), duration_s=time.monotonic() - t0)
    finally:
        spool = getattr(snap, "spool", None)
        if spool is not None and hasattr(spool, "cleanup"):
            spool.cleanup()
    result.inventory = {}  # the per-target HTML has it; the fleet reports do not need it
    return Payload(
        status="audited",
        result=result,
        reports={fmt: str(p) for fmt, p in paths.items()},
        snapshot=str(snapshot_path),
        duration_s=time.monotonic() - t0,
    )


def _line(text: str) -> str:
    return " ".join(text.split())
