"""The body of ``pgaudit-roles fleet``: inventory -> per-target jobs -> run -> combined reports.

Everything that can be wrong with the input (inventory, --select, --shard, configuration,
rules, per-target settings) is checked before the first cluster is contacted: exit 2 with
one line, nothing written. Per-target problems found later (a baseline file missing for
one target) are that target's outcome, and the rest of the fleet continues.

Output directory layout::

    OUTPUT_DIR/fleet-report.json        the combined JSON (always written)
    OUTPUT_DIR/fleet-report.{html,junit.xml,sarif,md}   as --format asks
    OUTPUT_DIR/targets/<target>/pgaudit-report.*        each target's own reports
    OUTPUT_DIR/targets/<target>/snapshot.json.gz        each audited target's snapshot
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..collect.connect import describe_target
from ..config import with_overrides
from ..core.atomic import atomic_writer
from ..core.errors import UsageError
from ..core.signals import Terminated
from ..evaluate.frameworks import load_framework
from ..history import record, run_from_result
from ..pipeline import load_rules_for, write_files
from ..reports import FORMATS
from ..reports.common import printable
from ..reports.registry import BY_NAME
from . import inventory as inv
from . import runner
from .envdrift import compare_fleet
from .formats import BASENAME, combined, parse
from .inventory import InventoryError, Target
from .outcome import NOT_AUDITED, FleetResult, TargetOutcome, not_audited_result
from .worker import Job

if TYPE_CHECKING:
    from ..config import Config
    from ..core.model import Rule

TARGETS_DIR = "targets"
DEFAULT_TIMEOUT_S = 1800.0


@dataclass
class FleetOptions:
    inventory: Path
    output_dir: Path
    formats: list[str]
    select: list[str] = field(default_factory=list)
    shard: str | None = None
    parallel: int = 4
    timeout_s: float = DEFAULT_TIMEOUT_S
    report_options: dict[str, Any] = field(default_factory=dict)
    compare_environments: bool = True


def parse_fleet_formats(spec: str | None, cfg_formats: Sequence[str]) -> list[str]:
    return parse(spec, cfg_formats)


def select(opts: FleetOptions) -> tuple[Any, list[Target]]:
    """The inventory and the chosen targets (no network, no rules: cheap errors first)."""
    loaded = inv.load(opts.inventory)
    selection = inv.parse_select(opts.select)
    shard = inv.parse_shard(opts.shard) if opts.shard else None
    if not inv.choose(loaded.targets, selection, None):
        raise UsageError(
            f"inventory {opts.inventory}: no target matches the selection {' '.join(opts.select)}"
        )
    # a shard may be empty (more batch tasks than targets): an empty fleet report, exit 0
    return loaded, inv.choose(loaded.targets, selection, shard)


def prepare(
    opts: FleetOptions,
    chosen: Sequence[Target],
    base_cfg: Config,
    base_rules: list[Rule],
    inventory_path: Path,
) -> list[Any]:
    """One validated Job per chosen target (per-target settings checked here)."""

    # each target's own reports: every requested format a single scan has (json always)
    per_target = [f for f in opts.formats if f in FORMATS and f != "text"]
    if "json" not in per_target:
        per_target.insert(0, "json")
    rules_cache: dict[tuple[str, ...], list[Rule]] = {_dirs_key(base_cfg): base_rules}
    jobs = []
    root = opts.output_dir.resolve()
    for t in chosen:
        cfg, rules = _target_config(t, base_cfg, rules_cache, inventory_path)
        # the formats the target's reports are written in, as scan's --format would set
        # them: the engine computes what those reporters need (and only that)
        cfg = dataclasses.replace(cfg, formats=tuple(per_target))
        jobs.append(
            Job(
                target=t,
                cfg=cfg,
                rules=rules,
                formats=per_target,
                directory=root / TARGETS_DIR / t.slug,
                options=opts.report_options,
            )
        )
    return jobs


def _dirs_key(cfg: Config) -> tuple[str, ...]:
    return tuple(str(p) for p in cfg.rules_dirs)


def _target_config(
    t: Target, base: Config, cache: dict[tuple[str, ...], list[Rule]], inventory_path: Path
) -> tuple[Config, list[Rule]]:

    if not t.config:
        return base, cache[_dirs_key(base)]
    try:
        cfg = with_overrides(base, t.config, f"{t.origin}: config", inventory_path.parent)
        key = _dirs_key(cfg)
        if key not in cache:
            cache[key] = load_rules_for(cfg)
            if cfg.framework:
                load_framework(cfg.framework, cache[key])
        cfg.resolve_rules(cache[key])
    except UsageError as exc:
        raise InventoryError(str(exc)) from None
    return cfg, cache[key]


def execute(
    opts: FleetOptions,
    loaded: Any,
    chosen: Sequence[Target],
    base_cfg: Config,
    base_rules: list[Rule],
    progress: Callable[[str], None],
) -> FleetResult:
    """Run the chosen targets and build the FleetResult (reports are written by
    :func:`write_reports`)."""

    jobs = prepare(opts, chosen, base_cfg, base_rules, loaded.path)
    _prepare_output(opts.output_dir)
    started = dt.datetime.now(dt.UTC)
    total = len(jobs)
    done_count = [0]

    def on_done(item: Any) -> None:
        done_count[0] += 1
        progress(_progress_line(item, done_count[0], total))

    finished, stopped = runner.run(
        jobs,
        parallel=opts.parallel,
        timeout_s=lambda j: j.target.timeout if j.target.timeout is not None else opts.timeout_s,
        on_done=on_done,
    )
    by_name = {f.job.target.name: f for f in finished}
    outcomes = [_outcome(by_name[t.name], opts.output_dir) for t in chosen]
    result = FleetResult(
        inventory=str(opts.inventory),
        inventory_kind=loaded.kind,
        outcomes=outcomes,
        fail_on=base_cfg.fail_on,
        started_at=started,
        finished_at=dt.datetime.now(dt.UTC),
        selection=list(opts.select),
        shard=opts.shard,
        parallel=opts.parallel,
        jobs=base_cfg.collect.get("jobs"),
        interrupted=stopped,
        total_in_inventory=len(loaded.targets),
    )
    if opts.compare_environments and stopped is None:
        try:
            result.environments, result.environment_notes = compare_fleet(
                result, opts.output_dir, base_cfg
            )
        except KeyboardInterrupt as exc:  # stopped while comparing: the audits are all done
            result.interrupted = "SIGTERM" if isinstance(exc, Terminated) else "SIGINT"
            result.environment_notes = ["the environment comparison was interrupted"]
    return result


def _prepare_output(out: Path) -> None:
    try:
        (out / TARGETS_DIR).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create report directory {out}: {exc.strerror or exc}") from None


def _outcome(item: Any, out_dir: Path) -> TargetOutcome:
    """A Finished job -> TargetOutcome; a target not audited gets its own result and reports."""

    job = item.job
    try:
        label = describe_target(job.target.conninfo)
    except Exception:
        label = job.target.name
    o = TargetOutcome(
        target=job.target,
        status=item.status,
        reason=item.reason,
        label=label,
        duration_s=round(item.duration_s, 3),
    )
    root = out_dir.resolve()
    if item.payload is not None:
        o.peak_rss_kb = item.payload.peak_rss_kb or None
    if item.status == "audited" and item.payload is not None:
        o.result = item.payload.result
        o.reports = {fmt: _rel(p, root) for fmt, p in item.payload.reports.items()}
        o.snapshot = _rel(item.payload.snapshot, root) if item.payload.snapshot else None
    elif item.status in NOT_AUDITED:
        o.result = not_audited_result(
            job.target, item.status, item.reason or item.status, job.rules, job.cfg, label
        )

        # no snapshot, so no format built from catalog data (csv's access review)
        formats = [f for f in job.formats if not (f in BY_NAME and BY_NAME[f].needs)]
        try:
            paths = write_files(o.result, formats, job.directory, job.options)
        except UsageError:
            paths = {}
        o.reports = {fmt: _rel(str(p), root) for fmt, p in paths.items()}
    if o.result is not None and job.cfg.history.get("dir") is not None:
        _record_history(o, job.cfg)
    return o


def _record_history(o: TargetOutcome, cfg: Config) -> None:
    """Append the target's run to the history store under its inventory name. A target
    not audited is recorded too: its rules are skipped, so the history keeps its earlier
    findings open (unknown, never resolved) and shows the gap."""
    assert o.result is not None
    run = run_from_result(
        o.result,
        target=o.target.name,
        duration_seconds=o.duration_s,
        labels={
            k: v
            for k, v in (
                ("environment", o.target.environment),
                ("application", o.target.application),
                ("team", o.target.team),
            )
            if v
        },
    )
    record(run, cfg.history["dir"], cfg.history.get("keep"))


def _rel(path: str, root: Path) -> str:
    try:
        return Path(os.path.relpath(Path(path).resolve(), root)).as_posix()
    except ValueError:
        return str(path)


def _progress_line(item: Any, n: int, total: int) -> str:
    name = printable(item.job.target.name)
    head = f"[{n}/{total}] {name}: {item.status}"
    if item.status == "audited" and item.payload is not None and item.payload.result is not None:
        counts = item.payload.result.counts_by_severity()
        shown = ", ".join(f"{v} {k}" for k, v in counts.items() if v) or "no findings"
        return f"{head} ({shown}; {item.duration_s:.1f} s)"
    return f"{head}" + (f": {printable(item.reason)}" if item.reason else "")


def write_reports(
    result: FleetResult, formats: Sequence[str], out_dir: Path, options: dict[str, Any]
) -> dict[str, Path]:
    """The combined reports, all or nothing (temporary files renamed at the end)."""
    import contextlib

    reporters = combined(formats)
    paths = {r.name: out_dir / f"{BASENAME}{r.extension}" for r in reporters}
    current: object = out_dir
    try:
        with contextlib.ExitStack() as stack:
            for r in reporters:
                current = paths[r.name]
                fh = stack.enter_context(atomic_writer(paths[r.name]))
                r.write(result, fh, options)
                fh.flush()
    except OSError as exc:
        raise UsageError(f"cannot write {current}: {exc.strerror or exc}") from None
    return paths
