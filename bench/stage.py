#!/usr/bin/env python3
"""The measured process of one benchmark stage: ``python bench/stage.py SPEC_JSON``.

Why apart from ``run.py``: a stage's wall time is what a user pays (interpreter start,
imports, the work), and the parent's own modules (argparse, subprocess, make_cluster with
logging, hashlib and concurrent.futures: ~25 ms of imports before the scan could start)
are not; ``run.py`` starts this small module instead of itself. Its imports are the
standard library's few; the stages import what they measure.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

NOT_AVAILABLE = "not available"


class NotAvailable(Exception):
    """The module or function a stage needs does not exist (yet)."""


def _need(module: str, attr: str) -> Any:
    import importlib

    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        # Only the module itself missing means "not written yet"; a missing dependency
        # inside it is a real failure.
        if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
            raise NotAvailable(f"module {module} does not exist yet") from None
        raise
    fn = getattr(mod, attr, None)
    if fn is None:
        raise NotAvailable(f"{module}.{attr} does not exist yet")
    return fn


def _exists(module: str) -> None:
    """:func:`_need` for a module the stage imports later: found, not imported (a live
    scan forks its collection before the evaluation's modules are imported)."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise NotAvailable(f"module {module} does not exist yet")


def _self_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _snapshot_rows(snap: Any) -> dict[str, int]:
    """Rows per table kind in a Snapshot (best effort: the model may become columnar)."""
    counts: dict[str, int] = {}
    with contextlib.suppress(Exception):
        for name, t in snap.cluster.items():
            counts[name] = counts.get(name, 0) + len(t)
        for d in snap.databases:
            for name, t in d.tables.items():
                counts[name] = counts.get(name, 0) + len(t)
    return counts


def _rules_and_config() -> tuple[Any, Any]:
    return _need("pgaudit_roles.evaluate.rules", "load_rules")(), _config()


def _config() -> Any:
    config = None
    with contextlib.suppress(NotAvailable):
        load_config = _need("pgaudit_roles.config", "load_config")
        config = load_config(None, discover_file=False)  # never pick up a file from cwd
    return config


def _collector(spec: dict[str, Any]) -> Callable[..., Any]:
    import inspect

    collect = _need("pgaudit_roles.collect.collector", "collect")
    kw: dict[str, Any] = {"all_databases": True}
    params = inspect.signature(collect).parameters
    if "jobs" in params and spec.get("jobs"):
        kw["jobs"] = spec["jobs"]
    return lambda spool=None: collect(spec["conninfo"], spool=spool, **kw)


def _read_while_starting(
    read: Callable[..., Any], formats: list[str], needs: tuple[tuple[str, str], ...] = ()
) -> tuple[Any, Any, Any]:
    """(snapshot, rules, the evaluation's start or None), as the CLI gets them:
    ``read(spool)`` in a forked child (`collect.forked.start`, when a core is idle) while
    this process loads the rules and runs `pipeline.EvaluationStart`. The code of before
    those (or of ``needs``) loads the rules, then reads here."""
    try:
        begin = _need("pgaudit_roles.collect.forked", "start")
        prepare = _need("pgaudit_roles.pipeline", "EvaluationStart")
        for module, attr in needs:
            _need(module, attr)
    except NotAvailable:
        rules = _need("pgaudit_roles.evaluate.rules", "load_rules")()
        return read(), rules, None
    with begin(read) as pending:  # the rules' modules are imported after the fork, as in the CLI
        rules = _need("pgaudit_roles.evaluate.rules", "load_rules")()
        start = prepare(formats, rules)
        return pending.finish(start), rules, start


def _evaluate(snap: Any, rules: Any, config: Any, start: Any, *, keep_open: bool = False) -> Any:
    """The evaluation, in the start's connection when there is one; ``keep_open``: the
    start's connection stays open, for the caller to close (``start.close()``) while the
    reports' child renders, as the CLI and ``pipeline.run_scan`` do."""
    evaluate = _need("pgaudit_roles.evaluate.engine", "evaluate")
    if start is not None and keep_open:
        return evaluate(snap, rules, config, con=start.con, keep_open=True)
    if start is not None:
        return evaluate(snap, rules, config, con=start.take())
    return evaluate(snap, rules, config)


def _write_reports(
    result: Any, formats: list[str], out_dir: str, meanwhile: Callable[[], None] | None = None
) -> dict[str, int]:
    write_reports = _need("pgaudit_roles.reports", "write_reports")
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    if meanwhile is not None:
        write_reports(result, formats, Path(out_dir), meanwhile=meanwhile)
    else:
        write_reports(result, formats, Path(out_dir))
    return {p.name: p.stat().st_size for p in sorted(Path(out_dir).iterdir()) if p.is_file()}


def _findings(result: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with contextlib.suppress(Exception):
        out["findings"] = len(result.findings)
        statuses: dict[str, int] = {}
        for r in result.results:
            statuses[r.status] = statuses.get(r.status, 0) + 1
        out["rule_status"] = statuses
    return out


def _stage_collect(spec: dict[str, Any]) -> dict[str, Any]:
    save = _need("pgaudit_roles.collect.snapshot", "save")
    t0 = time.perf_counter()
    snap = _collector(spec)()
    t1 = time.perf_counter()
    rss_collect = _self_rss_mib()
    save(snap, spec["snapshot"])
    t2 = time.perf_counter()
    return {
        "collect_s": t1 - t0,
        "save_s": t2 - t1,
        "rss_after_collect_mib": rss_collect,
        "snapshot_bytes": os.path.getsize(spec["snapshot"]),
        "databases": len(snap.databases),
        "rows": _snapshot_rows(snap),
    }


def _stage_check(spec: dict[str, Any]) -> dict[str, Any]:
    import pickle

    load = _need("pgaudit_roles.collect.snapshot", "load")
    _need("pgaudit_roles.evaluate.engine", "evaluate")
    if not os.path.exists(spec["snapshot"]):
        raise NotAvailable("needs the snapshot written by the collect stage")
    # As `pgaudit-roles check` does with an archive (load(path, spool) came with is_archive)
    config = _config()
    t0 = time.perf_counter()
    snap, rules, start = _read_while_starting(
        lambda spool=None: load(spec["snapshot"], spool),
        [],
        needs=(("pgaudit_roles.collect.snapshot", "is_archive"),),
    )
    t1 = time.perf_counter()
    result = _evaluate(snap, rules, config, start)
    t2 = time.perf_counter()
    with open(spec["result_pickle"], "wb") as fh:
        pickle.dump(result, fh, protocol=pickle.HIGHEST_PROTOCOL)
    t3 = time.perf_counter()
    return {
        "load_snapshot_s": t1 - t0,
        "evaluate_s": t2 - t1,
        "pickle_s": t3 - t2,
        "rules": len(rules),
        **_findings(result),
    }


def _stage_report(spec: dict[str, Any]) -> dict[str, Any]:
    import pickle

    _need("pgaudit_roles.reports", "write_reports")
    if not os.path.exists(spec["result_pickle"]):
        raise NotAvailable("needs the scan result of the check stage")
    t0 = time.perf_counter()
    with open(spec["result_pickle"], "rb") as fh:
        result = pickle.load(fh)  # noqa: S301 - our own file from the check stage
    t1 = time.perf_counter()
    files = _write_reports(result, spec["formats"], spec["out_dir"])
    t2 = time.perf_counter()
    return {"unpickle_s": t1 - t0, "write_s": t2 - t1, "formats": spec["formats"], "files": files}


def _stage_scan(spec: dict[str, Any]) -> dict[str, Any]:
    """collect -> evaluate -> JSON/SARIF/JUnit in one process, no snapshot file: the
    issue's "full scan" through the Python API."""
    for module in ("pgaudit_roles.evaluate.engine", "pgaudit_roles.reports"):
        _exists(module)  # before anything runs: not written yet (not imported: see below)
    # As `pipeline.run_scan` and the CLI do: the collection starts as soon as the
    # configuration is read, the rules load and DuckDB starts meanwhile.
    config = _config()
    t0 = time.perf_counter()
    snap, rules, start = _read_while_starting(_collector(spec), spec["formats"])
    t1 = time.perf_counter()
    rss_collect = _self_rss_mib()
    try:
        result = _evaluate(snap, rules, config, start, keep_open=True)
        t2 = time.perf_counter()
        rss_check = _self_rss_mib()
        files = _write_reports(
            result, spec["formats"], spec["out_dir"], start.close if start is not None else None
        )
    finally:
        if start is not None:
            start.close()
    t3 = time.perf_counter()
    return {
        "collect_s": t1 - t0,
        "evaluate_s": t2 - t1,
        "write_s": t3 - t2,
        "rss_after_collect_mib": rss_collect,
        "rss_after_check_mib": rss_check,
        "files": files,
        **_findings(result),
    }


STAGE_FUNCS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "collect": _stage_collect,
    "check": _stage_check,
    "report": _stage_report,
    "report_html": _stage_report,
    "scan": _stage_scan,
}


@contextlib.contextmanager
def _one_run() -> Iterator[None]:
    """The garbage collector's settings of one command (``core.gcpolicy``), as the
    ``pgaudit-roles`` script and ``pipeline.run_scan`` run under them; nothing before
    that module existed."""
    try:
        settings = _need("pgaudit_roles.core.gcpolicy", "for_one_command")
    except NotAvailable:
        yield
        return
    with settings():
        yield


def stage_child(spec_json: str) -> int:
    spec = json.loads(spec_json)
    try:
        with _one_run():
            res: dict[str, Any] = {"status": "ok", "inner": STAGE_FUNCS[spec["stage"]](spec)}
    except NotAvailable as exc:
        res = {"status": NOT_AVAILABLE, "reason": str(exc)}
    except ImportError as exc:
        # A module of ours that another part imports is not written yet: not available.
        # Anything else missing (a third-party dependency) is a failure.
        ours = (exc.name or "").split(".")[0] == "pgaudit_roles"
        res = {
            "status": NOT_AVAILABLE if ours else "failed",
            "reason": f"{type(exc).__name__}: {_one_line(str(exc))}",
        }
    except BaseException as exc:  # recorded, not raised: the parent prints one line
        res = {"status": "failed", "reason": f"{type(exc).__name__}: {_one_line(str(exc))}"}
    res.setdefault("inner", {})["child_peak_rss_mib"] = _self_rss_mib()
    Path(spec["result"]).write_text(json.dumps(res, default=str))
    # The process then ends as the `pgaudit-roles` script does (cli.console_main): what
    # the run kept is frozen, so the interpreter's shutdown collections do not walk it.
    import gc

    gc.freeze()
    return 0


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


if __name__ == "__main__":
    sys.exit(stage_child(sys.argv[1]))
