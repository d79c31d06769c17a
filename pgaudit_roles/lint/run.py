"""One lint run: order, parse, statement layer, effect layer, one ScanResult.

The result is the scan's findings model (``model.ScanResult``), with ``file``/``line``/
``column`` on every finding that a statement caused, so waivers, baselines, the gate and
the JSON/SARIF/JUnit reporters work unchanged. Fingerprints of statement findings are
rule + file + pglast's fingerprint of the statement (which ignores literal values, so the
password never enters it) + repeat count: a baseline survives lines added above.

Secrets: every password literal read from the migrations is collected, and every message
and detail is scrubbed of them before anything is written, a second line of defence
behind messages that never quote literals.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..collect.snapshot import load as load_snapshot
from ..core.model import Finding, Rule, RuleResult, ScanResult, fingerprint
from ..core.text import map_strings
from ..evaluate import baseline as baseline_mod
from ..evaluate import waivers as waivers_mod
from ..evaluate.engine import render_message
from ..evaluate.policy_drops import seed_from_snapshot
from ..evaluate.rules import resolve_ids
from ..evaluate.statement_checks import State, password_literals
from .effect import empty_twin, run_twin, snapshot_twin, statement_names
from .order import order_paths
from .placeholders import restore_placeholders
from .plpgsql import embedded
from .source import Source, Statement, display_path, read_sources, repo_root
from .statements import run_checks

TWIN_RULE = "PGR-LINT-015"
TOOL_LAYOUTS = frozenset(
    {"flyway", "golang-migrate", "dbmate", "goose", "sql-migrate", "sqitch", "liquibase"}
)


@dataclass
class LintOptions:
    paths: list[Path]
    database: str = "postgres"
    twin: bool = True
    snapshot: Path | None = None
    install: Any = None  # localpg.PgInstall for the empty twin (default: as the demo)
    cluster: Any = None  # a running LocalCluster to use as the empty twin (tests)
    root: Path | None = None
    checkpoints: int = 12  # effect.DEFAULT_CHECKPOINTS (not imported: effect imports psycopg)
    progress: Callable[[str], None] | None = None
    extra_meta: dict[str, Any] = field(default_factory=dict)


def lint(opts: LintOptions, rules: Sequence[Rule], cfg: Any) -> ScanResult:
    """Lint ``opts.paths`` with ``rules`` under ``cfg`` (waivers and baseline applied)."""
    import time

    say = opts.progress or (lambda _m: None)
    t0 = time.perf_counter()
    ordered = order_paths(opts.paths)
    root = opts.root or repo_root(opts.paths[0] if opts.paths else Path.cwd())
    src = (
        read_sources(ordered.files, root, database=None, dbmate=False, dbname=opts.database)
        if not ordered.dbmate
        else _read_dbmate(ordered, root, opts.database)
    )
    src.notes[:0] = [f"{display_path(f, root)}: not run: {why}" for f, why in ordered.skipped]
    t_parse = time.perf_counter() - t0
    secrets = _secrets(src)
    statement_rules = [r for r in rules if r.check is not None and r.id not in cfg.disabled]

    start = State()
    if opts.snapshot is not None and any(r.check == "drop_policy" for r in statement_rules):
        seed_from_snapshot(start.policies, load_snapshot(opts.snapshot), opts.database)
    hits = run_checks(
        src.statements,
        [r for r in statement_rules if r.id != TWIN_RULE],
        getattr(cfg, "naming", None),
        start,
    )
    t_checks = time.perf_counter() - t0 - t_parse

    by_rule: dict[str, list[Finding]] = {r.id: [] for r in rules if r.check is not None}
    counter: dict[tuple[str, str, str], int] = {}
    covered: list[tuple[Statement, frozenset[str]]] = []

    for h in hits:
        sev = cfg.severity.get(h.rule.id) or h.rule.severity
        msg = render_message(h.rule.message, {**_defaults(h.values), **h.values})
        f = _statement_finding(h.rule.id, sev, msg, h.statement, h.values, counter, opts)
        f.manual = h.rule.manual
        by_rule[h.rule.id].append(f)
        if h.rule.covers:
            covered.append((h.statement, frozenset(h.rule.covers)))

    layouts = [lay for _d, lay in ordered.layouts]
    twin_meta: dict[str, Any] = {"run": False}
    catalogue_results: list[RuleResult] = []
    if opts.twin and src.statements:
        twin = (
            snapshot_twin(opts.snapshot, opts.install, say)
            if opts.snapshot
            else empty_twin(opts.install, opts.cluster)
        )
        t1 = time.perf_counter()
        try:
            stop_default = bool(layouts) and all(lay in TOOL_LAYOUTS for lay in layouts)
            outcome = run_twin(
                src.statements,
                rules,
                cfg,
                twin,
                default_db=opts.database,
                on_error_stop=stop_default,
                create_db=opts.snapshot is None,
                max_checkpoints=opts.checkpoints,
                progress=say,
            )
        finally:
            twin.stop()
        src.notes += outcome.not_applied
        twin_meta = {
            "run": True,
            "twin": twin.label,
            "applied": outcome.applied,
            "evaluations": outcome.evaluations,
            "seconds": round(time.perf_counter() - t1, 3),
            **outcome.meta,
        }
        twin_rule = next((r for r in rules if r.id == TWIN_RULE), None)
        if twin_rule is not None and TWIN_RULE not in cfg.disabled:
            sev = cfg.severity.get(TWIN_RULE) or twin_rule.severity
            for fail in outcome.failures:
                msg = render_message(twin_rule.message, {"error": fail.message})
                f = _statement_finding(
                    TWIN_RULE, sev, msg, fail.statement, {"sqlstate": fail.sqlstate}, counter, opts
                )
                f.manual = twin_rule.manual
                f.details["layer"] = "twin"
                by_rule[TWIN_RULE].append(f)
        per_rule: dict[str, list[Finding]] = {}
        for a in outcome.attributed:
            f = a.finding
            f.details = {**f.details, "layer": "twin"}
            if a.statement is not None:
                if _reported(a, covered):
                    continue  # the statement layer reports it already
                f.file, f.line, f.column = a.statement.file, a.statement.line, a.statement.column
                f.details["statement"] = a.statement.kind
                mark_conditional(f, a.statement)
            per_rule.setdefault(a.rule.id, []).append(f)
        for r in outcome.results:
            found = per_rule.get(r.rule.id, [])
            catalogue_results.append(
                RuleResult(
                    rule=r.rule,
                    status=r.status
                    if r.status in ("skipped", "error")
                    else ("fail" if found else "pass"),
                    reason=r.reason,
                    findings=found,
                    severity=r.severity,
                )
            )

    results: list[RuleResult] = []
    for sr in sorted((r for r in rules if r.check is not None), key=lambda r: r.id):
        sev = cfg.severity.get(sr.id)
        if sr.id in cfg.disabled:
            results.append(
                RuleResult(rule=sr, status="skipped", reason="disabled by config", severity=sev)
            )
        elif sr.id == TWIN_RULE and not twin_meta["run"]:
            results.append(
                RuleResult(
                    rule=sr,
                    status="skipped",
                    reason="effect layer not run (--no-twin)",
                    severity=sev,
                )
            )
        else:
            found = sorted(by_rule[sr.id], key=lambda f: (f.file or "", f.line or 0))
            results.append(
                RuleResult(
                    rule=sr, status="fail" if found else "pass", findings=found, severity=sev
                )
            )
    results += catalogue_results

    meta: dict[str, Any] = {
        "tool_version": _version(),
        "target": {"host": None, "port": None, "dbname": opts.database, "user": None},
        "server_version": twin_meta.get("server_version"),
        "lint": {
            "layouts": [{"directory": d, "layout": lay} for d, lay in ordered.layouts],
            "order": src.files,
            "statements": len(src.statements),
            "notes": src.notes,
            "twin": twin_meta,
            "seconds": {"parse": round(t_parse, 3), "checks": round(t_checks, 3)},
        },
        **opts.extra_meta,
    }
    result = ScanResult(
        meta=meta, results=results, fail_on=cfg.fail_on, config_sources=dict(cfg.sources)
    )
    restore_placeholders(result, src.originals)  # before waivers: they name what users see
    _apply_waivers_and_baseline(result, rules, cfg)
    scrub_secrets(result, secrets)
    return result


def _reported(a: Any, covered: list[tuple[Statement, frozenset[str]]]) -> bool:
    """A twin finding the statement layer already reports: a statement finding whose rule
    ``covers`` this rule, at the same statement, or in the same file at a statement that
    names the finding's object or role (attribution within a file is by names)."""
    st, f = a.statement, a.finding
    for other, rule_ids in covered:
        if a.rule.id not in rule_ids or other.file != st.file:
            continue
        if other.index == st.index:
            return True
        names = statement_names(other)
        if (f.object_name and f.object_name in names) or (f.role and f.role in names):
            return True
    return False


def _read_dbmate(ordered: Any, root: Path, dbname: str) -> Source:
    """dbmate files run only their migrate:up part; other files are read whole."""
    src = Source()
    for f in ordered.files:
        part = read_sources([f], root, dbmate=f.resolve() in ordered.dbmate, dbname=dbname)
        src.statements += part.statements
        src.notes += part.notes
        src.files += part.files
        for stand_in, original in part.originals.items():
            src.originals.setdefault(stand_in, original)
    for i, st in enumerate(src.statements):
        st.index = i
    return src


def _defaults(values: dict[str, Any]) -> dict[str, Any]:
    return {"role": None, "object_name": None, "schema": None}


def _statement_finding(
    rule_id: str,
    severity: str,
    message: str,
    st: Statement,
    values: dict[str, Any],
    counter: dict[tuple[str, str, str], int],
    opts: LintOptions,
) -> Finding:
    from pglast.parser import fingerprint as pg_fingerprint

    try:
        stmt_fp = pg_fingerprint(st.text)
    except Exception:  # noqa: BLE001 - a statement pglast parsed always fingerprints; be safe
        stmt_fp = st.kind
    key = (rule_id, st.file, stmt_fp)
    counter[key] = counter.get(key, 0) + 1
    role = values.get("role")
    database = st.database or opts.database
    identity = f"{st.file}#{stmt_fp}#{counter[key]}"
    details = {k: v for k, v in values.items() if v is not None}
    details.update(
        {
            "layer": "statement",
            "statement": st.kind,
            "file": st.file,
            "line": st.line,
            "column": st.column,
        }
    )
    finding = Finding(
        rule_id=rule_id,
        severity=severity,
        message=message,
        database=database,
        object_type="statement",
        schema=values.get("schema"),
        object_name=values.get("object_name"),
        object_identity=f"{st.file}:{st.line}",
        role=role,
        details=details,
        file=st.file,
        line=st.line,
        column=st.column,
        fingerprint=fingerprint(rule_id, database, "statement", identity, role),
    )
    mark_conditional(finding, st)
    return finding


def mark_conditional(f: Finding, st: Statement) -> None:
    """A finding of a statement in a psql ``\\if`` branch only the run decides says so
    (lint/conditionals.py): in its details and at the end of its message."""
    if st.conditional:
        f.details["conditional"] = st.conditional
        f.message = f"{f.message} (conditional: only when {st.conditional} runs)"


def _apply_waivers_and_baseline(result: ScanResult, rules: Sequence[Rule], cfg: Any) -> None:

    if cfg.waivers is not None:
        loaded = waivers_mod.load(cfg.waivers)
        waivers_mod.apply(result.findings, loaded, resolve_ids(rules))
        result.meta["waivers_file"] = str(cfg.waivers)
    if cfg.baseline is not None:
        result.resolved = baseline_mod.apply(result.findings, baseline_mod.load(cfg.baseline))
        result.meta["baseline_file"] = str(cfg.baseline)


def _secrets(src: Source) -> list[str]:
    found = {
        p
        for st in [*src.statements, *(e for s in src.statements for e in embedded(s))]
        for p in password_literals(st.node)
        if p not in st.placeholders
    }
    return sorted(found, key=len, reverse=True)


def scrub_secrets(result: ScanResult, secrets: Sequence[str]) -> None:
    """Replace every password literal wherever it could have slipped into a finding."""
    if not secrets:
        return

    def redact(text: str) -> str:
        for s in secrets:
            if s and s in text:
                text = text.replace(s, "[redacted]")
        return text

    def clean(value: Any) -> Any:
        return map_strings(value, redact)

    for f in result.findings:
        f.message = clean(f.message)
        f.details = clean(f.details)
        f.remediation = clean(f.remediation)
        f.object_identity = clean(f.object_identity)
    result.meta = clean(result.meta)


def _version() -> str:
    return __version__
