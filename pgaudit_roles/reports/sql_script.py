"""The remediation script: one psql file that fixes what the scan found, safely ordered.

Why it is shaped like this (each point is tested by running the script with psql on
PostgreSQL 13-18):

* ``\\set ON_ERROR_STOP on`` and one ``BEGIN``/``COMMIT`` per database: the first error
  stops the run and rolls back that database's changes.
* Grouped by database (``\\connect`` to each, cluster-wide role changes from the
  maintenance database), then by phase in a safe order: grants, then ownership changes
  (``ALTER ... OWNER TO``, ``REASSIGN OWNED``), then grants to the roles that lost
  ownership (the change carries their ACL entries to the new owner), then other changes,
  then revokes, then
  drops (``DROP OWNED`` before ``DROP``, ``DROP ROLE`` last, after every database). So a
  new owner is granted before the old one is revoked, and ownership moves before anything
  is dropped. Within a phase, by rule, then finding.
* Every statement is re-checked with pglast (the checks of
  :func:`pgaudit_roles.evaluate.remediation.check_sql`, in ``check_and_classify``) and
  classified from the same parse tree; none is written unchecked. CASCADE never appears.
* Statements stay one line per name: a quoted name or string holding a line break or
  other control character is written in Unicode-escape form (``U&"..."``, proved
  equivalent by pglast), so a hostile name cannot show a fake line to the reviewer.
* Each block is preceded by a comment naming its finding (rule, severity, object,
  fingerprint). Comment text comes from the audited database, so every control character
  is written as a visible escape: a newline in a name cannot end the comment and start a
  statement or a psql meta-command.
* Destructive statements are marked ``-- DESTRUCTIVE: review`` and, at level ``safe``,
  listed as comments only; level ``all`` emits them.
* Waived findings are listed, never fixed; findings without safe SQL are listed as manual
  steps; no password or secret is ever written (a comment points to the secrets manager).
* ``ALTER SYSTEM`` cannot run inside a transaction block: those statements come last, on
  their own, followed by ``pg_reload_conf()``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO

from .. import __version__
from ..core.errors import UsageError
from ..core.model import Finding, ScanResult
from ..evaluate.remediation import RemediationError, check_and_classify
from .common import outside_lines, printable
from .registry import ReportContext

LEVELS = ("safe", "all")
DEFAULT_FILE_NAME = "pgaudit-report.sql"

# Phases, in the order they run inside one database's transaction.
_PHASES: tuple[tuple[int, str], ...] = (
    (0, "create roles"),
    (1, "grants (new owners and members first)"),
    (2, "ownership changes (ALTER ... OWNER TO, REASSIGN OWNED)"),
    (3, "grants to the former owners (an ownership change takes their grants along)"),
    (4, "other changes (role attributes, settings, default privileges)"),
    (5, "revokes"),
    (6, "DROP OWNED"),
    (7, "drops"),
    (8, "drop roles"),
)
_FORMER_OWNER_GRANTS = 3
_DROP_ROLE = 8
_PHASE_NAMES = dict(_PHASES)

_HEAD_RULE = "-- " + "=" * 76


def comment_text(text: object) -> str:
    """``text`` on one line with every control/line-breaking character as a visible escape.

    psql ends a ``--`` comment at ``\\n`` or ``\\r``; we escape those and every other C0/C1
    control, DEL, Unicode line/paragraph separators and bidi overrides (which an editor
    would render as a line break or reorder), and double a backslash so escapes stay
    unambiguous.
    """
    return printable(text, strict=True)


def _comment(*parts: object) -> str:
    return "-- " + comment_text(" ".join(str(p) for p in parts if p not in (None, "")))


def _comment_lines(text: str, indent: str = "") -> list[str]:
    """A multi-line text (a manual procedure) as comment lines, each sanitised."""
    lines = [ln.rstrip() for ln in str(text).strip().splitlines()] or [""]
    return [("-- " + indent + comment_text(ln)).rstrip() for ln in lines]


_CONNINFO_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.I)
_URI_PASSWORD = re.compile(r"(://[^/:@\s]*:)[^@/\s]*@")


def redact(label: str) -> str:
    """A connection label without any password (``password=...`` or ``user:pw@`` in a URI)."""
    label = _CONNINFO_PASSWORD.sub(r"\1********", label)
    return _URI_PASSWORD.sub(r"\1********@", label)


def psql_connect(dbname: str) -> str:
    """A psql ``\\connect`` line for ``dbname`` that psql cannot misread.

    Usually the SQL-identifier form, ``\\connect "name"``, where psql strips the double
    quotes and un-doubles ``""`` without downcasing, and expands neither ``:variables``
    nor backquotes. psql reads a meta-command up to the end of the line, and treats a
    dbname containing ``=`` or a URI prefix as a connection string, so a name with a
    control character, ``=`` or such a prefix uses the connection-string form instead:
    ``\\connect -reuse-previous=on 'dbname=...'``, quoted for libpq (backslash escapes) and
    then for psql (``''``, and octal escapes for the UTF-8 bytes of every character that
    is not printable, so the line stays one visible line in any editor).
    """
    if not isinstance(dbname, str) or not dbname or "\x00" in dbname:
        raise ValueError(f"not a database name: {dbname!r}")
    simple = (
        dbname.isprintable()
        and "=" not in dbname
        and not dbname.lower().startswith(("postgresql:", "postgres:"))
    )
    if simple:
        return '\\connect "' + dbname.replace('"', '""') + '"'
    libpq = "dbname='" + dbname.replace("\\", "\\\\").replace("'", "\\'") + "'"
    out: list[str] = []
    for ch in libpq:
        if ch == "'":
            out.append("''")
        elif ch == "\\":
            out.append("\\\\")
        elif not ch.isprintable():  # controls, line separators, bidi: octal UTF-8 bytes
            out.extend(f"\\{byte:03o}" for byte in ch.encode("utf-8"))
        else:
            out.append(ch)
    return "\\connect -reuse-previous=on '" + "".join(out) + "'"


def _unicode_escaped(value: str, quote: str) -> str:
    """``value`` as the body of a ``U&"..."`` identifier or ``U&'...'`` string."""
    out: list[str] = []
    for ch in value:
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == quote:
            out.append(quote * 2)
        elif not ch.isprintable():
            out.append(f"\\{code:04X}" if code <= 0xFFFF else f"\\+{code:06X}")
        else:
            out.append(ch)
    return "".join(out)


def one_line(sql: str) -> str:
    """``sql`` with every quoted name or string that holds a control character rewritten
    in PostgreSQL's Unicode-escape form (``U&"a\\000Ab"``), so the statement shows no raw
    line break inside a name.

    Why: reviewers read this script before running it. A table called
    ``"t<newline>COMMIT;<newline>-- ok"`` is harmless to psql (it is inside quotes) but would
    show a fake ``COMMIT;`` line to a human. The rewrite is proved equivalent: the new text
    must parse (pglast) to the same tree as the original, or the original is kept.
    """
    if sql.isprintable() or ("'" not in sql and '"' not in sql):
        # nothing to rewrite: only a quoted name or string is (the loop below), and the
        # line breaks between the statements of a finding's fix are layout (the HTML
        # report shows 20,000 such fixes at the bench's large preset: 0.3 s of scans)
        return sql
    return _rewritten(sql)


def _rewritten(sql: str) -> str:
    """:func:`one_line`'s rewrite, token by token."""
    from pglast import parse_sql
    from pglast.parser import ParseError, scan

    try:
        tokens = scan(sql)
    except ParseError:
        return sql
    out: list[str] = []
    pos = 0
    for tok in tokens:
        text = sql[tok.start : tok.end + 1]
        if text.isprintable():
            continue
        if tok.name == "IDENT" and text.startswith('"') and text.endswith('"'):
            new = 'U&"' + _unicode_escaped(text[1:-1].replace('""', '"'), '"') + '"'
        elif tok.name == "SCONST" and text.startswith("'"):
            new = "U&'" + _unicode_escaped(text[1:-1].replace("''", "'"), "'") + "'"
        elif tok.name == "SCONST" and text[:2] in ("E'", "e'"):  # quote_literal's form
            value = text[2:-1].replace("''", "'").replace("\\\\", "\\")
            new = "U&'" + _unicode_escaped(value, "'") + "'"
        else:
            continue
        out += [sql[pos : tok.start], new]
        pos = tok.end + 1
    if not out:
        return sql
    rewritten = "".join(out) + sql[pos:]
    try:
        same = [s.stmt for s in parse_sql(rewritten)] == [s.stmt for s in parse_sql(sql)]
    except ParseError:
        same = False
    return rewritten if same else sql


@dataclass
class _Stmt:
    finding: Finding
    sql: str
    flags: set[str]
    phase: int
    destructive: bool
    section: str  # "cluster" | "db" | "cluster_drop" | "system"
    database: str | None
    grantees: list[str]  # of a GRANT/REVOKE ... ON <objects> (remediation.privilege_grantees)


@dataclass
class _Section:
    key: tuple[int, str]
    title: str
    database: str
    transaction: bool
    stmts: list[_Stmt] = field(default_factory=list)


def _phase(flags: set[str]) -> int:
    if "drop_role" in flags:
        return _DROP_ROLE
    if "drop_owned" in flags:
        return 6
    if "drop" in flags:
        return 7
    if "create_role" in flags:
        return 0
    if "ownership" in flags:
        return 2
    if "revoke" in flags:
        return 5
    if "grant" in flags:
        return 1
    return 4


def _after_ownership_changes(stmts: list[_Stmt]) -> None:
    """Move object grants to a role that is losing ownership after the ownership changes.

    ALTER ... OWNER TO rewrites the object's ACL: every entry of the old owner, as grantee
    or grantor, becomes the new owner's. A grant to the old owner that ran first (a writer
    group that owned a table keeps DML on it, PGR-DEFP-004's or PGR-OWN-001's own grant)
    would be carried to the new owner and the old one would end up with nothing (seen on
    a layout where db_writer_x owned tables). The former owner is the finding's role for
    the ownership fixes (PGR-OWN-001/002/004); a grant moved for any other role only runs
    later in the same transaction, which changes nothing.
    """
    former: set[tuple[str, str | None]] = {
        (s.finding.role, s.database)
        for s in stmts
        if "ownership" in s.flags and "reassign" not in s.flags and s.finding.role
    }
    for s in stmts:
        if s.phase != 1 or "membership" in s.flags or "grant" not in s.flags:
            continue
        if any((g, s.database) in former for g in s.grantees):
            s.phase = _FORMER_OWNER_GRANTS


def _login_roles(result: ScanResult) -> set[str]:
    roles = (result.inventory or {}).get("roles") or []
    return {
        str(r["name"])
        for r in roles
        if isinstance(r, dict) and r.get("login") and r.get("name") is not None
    }


def _label(result: ScanResult, cluster_label: str | None) -> str:
    if cluster_label:
        return redact(cluster_label)
    t = result.meta.get("target") if isinstance(result.meta.get("target"), dict) else {}
    host = (t or {}).get("host") or "localhost"
    port = (t or {}).get("port")
    where = f"{host}:{port}" if port else str(host)
    db = (t or {}).get("dbname")
    return redact(f"{where}/{db}" if db else where)


def _maintenance_db(result: ScanResult) -> str:
    t = result.meta.get("target")
    if isinstance(t, dict) and isinstance(t.get("dbname"), str) and t["dbname"]:
        return str(t["dbname"])
    return "postgres"


def _object(f: Finding) -> str:
    what = f.object_identity or (
        f"{f.schema}.{f.object_name}" if f.schema and f.object_name else f.object_name
    )
    return " ".join(p for p in (f.object_type or "", what or "") if p) or "-"


def _finding_header(f: Finding, part: str = "") -> list[str]:
    """The comment lines that name a finding (``part``: "(part i of n)" or "")."""
    sev, fp = f.severity, f.fingerprint
    if type(sev) is str and sev and type(fp) is str and fp:
        # _comment's words, joined here: 70,000 headers at the bench's large preset
        where = f"database: {f.database}" if f.database else "cluster-wide"
        role = f" | role: {f.role}" if f.role else ""
        text = f"[{f.rule_id}] {sev} | {where} | object: {_object(f)}{role} | fingerprint: {fp}"
        lines = ["-- " + comment_text(f"{text} {part}" if part else text)]
    else:
        lines = [_header_comment(f, part)]
    if f.message:
        words = " ".join(str(f.message).split())
        lines.append("-- " + comment_text("   " + words) if words else _MESSAGELESS)
    if f.baseline == "unchanged":
        lines.append(_ACCEPTED)
    return lines


_MESSAGELESS = _comment("  ")
_ACCEPTED = _comment("   (accepted in the baseline; fix it when you can)")


def _header_comment(f: Finding, part: str = "") -> str:
    """The first line of :func:`_finding_header` (its spec: tests/test_remediation_script.py)."""
    where = f"database: {f.database}" if f.database else "cluster-wide"
    return _comment(
        f"[{f.rule_id}]",
        f.severity,
        "|",
        where,
        "| object:",
        _object(f),
        *(("| role:", f.role) if f.role else ()),
        "| fingerprint:",
        f.fingerprint,
        part,
    )


def _sorted_findings(result: ScanResult | list[Finding]) -> list[Finding]:
    found = result if isinstance(result, list) else result.findings
    return sorted(
        found,
        key=lambda f: (
            f.rule_id,
            f.database or "",
            f.object_identity or f.object_name or "",
            f.role or "",
            f.fingerprint,
        ),
    )


def _statements(
    result: ScanResult | list[Finding], login_roles: set[str], errors: list[tuple[Finding, str]]
) -> list[_Stmt]:
    return _statements_of(_sorted_findings(result), login_roles, errors)


def _statements_of(
    ordered: list[Finding], login_roles: set[str], errors: list[tuple[Finding, str]]
) -> list[_Stmt]:
    """:func:`_statements` of findings already in :func:`_sorted_findings`' order."""
    out: list[_Stmt] = []
    for f in ordered:
        if f.suppressed is not None or not f.remediation:
            continue
        try:
            stmts = check_and_classify(f.remediation, origin=f.rule_id, login_roles=login_roles)
        except RemediationError as exc:
            errors.append((f, str(exc)))
            continue
        for sql, flags, grantees in stmts:
            phase = _phase(flags)
            if "no_transaction" in flags:
                section = "system"
            elif phase == _DROP_ROLE:
                section = "cluster_drop"
            elif f.database:
                section = "db"
            else:
                section = "cluster"
            out.append(
                _Stmt(
                    f,
                    one_line(sql),
                    flags,
                    phase,
                    f.destructive or "destructive" in flags,
                    section,
                    f.database,
                    grantees,
                )
            )
    _after_ownership_changes(out)
    return out


def _sections(stmts: Iterable[_Stmt], maintenance: str) -> list[_Section]:
    sections: dict[tuple[int, str], _Section] = {}
    for s in stmts:
        if s.section == "cluster":
            key, title, db, txn = (
                (0, ""),
                "cluster-wide changes (roles, memberships, "
                "database-level grants), run from the maintenance database",
                maintenance,
                True,
            )
        elif s.section == "db":
            assert s.database is not None
            key, title, db, txn = (1, s.database), f"database {s.database}", s.database, True
        elif s.section == "cluster_drop":
            key, title, db, txn = (2, ""), "roles to drop (after every database)", maintenance, True
        else:
            key, title, db, txn = (
                (3, ""),
                ("server settings (ALTER SYSTEM cannot run in a transaction block)"),
                maintenance,
                False,
            )
        sec = sections.get(key)
        if sec is None:  # (not setdefault: a _Section per statement, 68,000 at the large preset)
            sec = sections[key] = _Section(key, title, db, txn)
        sec.stmts.append(s)
    return [sections[k] for k in sorted(sections)]


def _shell_word(word: str) -> str:
    """``word`` quoted for a POSIX shell when it needs it (a file name in a comment the
    reader copies)."""
    import shlex

    return shlex.quote(word)


def _password_note(s: _Stmt) -> list[str]:
    if "login_role" in s.flags or "password_removed" in s.flags:
        # our own text, not data: written as is, so psql's \\password keeps one backslash
        return [
            "-- PASSWORD: set this role's credential from your secrets manager "
            "(Vault, AWS Secrets Manager, ...), e.g. with psql's \\password; it is "
            "never written into this script"
        ]
    return []


@dataclass
class PlannedSection:
    """One transaction (or the no-transaction ALTER SYSTEM block) of the script, for the
    twin that verifies it: the database and the statements in the order psql runs them."""

    database: str
    transaction: bool
    statements: list[tuple[Finding, str, bool]]  # finding, statement (with ;), destructive


def execution_plan(result: ScanResult, findings: list[Finding], level: str) -> list[PlannedSection]:
    """The statements the script for ``findings`` runs at ``level``, section by section,
    in the script's order (destructive ones left out at level safe; repeats once)."""
    stmts = _statements(findings, _login_roles(result), [])
    out: list[PlannedSection] = []
    for sec in _sections(stmts, _maintenance_db(result)):
        seen: set[str] = set()
        items = []
        for st in sorted(sec.stmts, key=lambda x: x.phase):
            statement = st.sql + ";"
            if statement in seen or (st.destructive and level != "all"):
                continue
            seen.add(statement)
            items.append((st.finding, statement, st.destructive))
        out.append(PlannedSection(sec.database, sec.transaction, items))
    return out


def _verification_lines(v: object) -> list[str]:
    lines = getattr(v, "header_lines", None)
    return [_comment(line) for line in lines()] if callable(lines) else []


def render_sql_script(
    result: ScanResult,
    level: str = "safe",
    *,
    cluster_label: str | None = None,
    generated_at: datetime | None = None,
    verification: object | None = None,
    file_name: str = DEFAULT_FILE_NAME,
) -> str:
    """The remediation script for ``result`` (see the module docstring for its shape).

    ``level`` is ``safe`` (destructive statements only listed, as comments) or ``all``.
    ``cluster_label`` names the target in the header (any password in it is redacted);
    by default it comes from the snapshot's target (host:port/dbname). ``file_name`` is
    the file the header's psql command line runs (the one this script is written to).
    """
    return "\n".join(
        _script_lines(
            result,
            level,
            cluster_label=cluster_label,
            generated_at=generated_at,
            verification=verification,
            file_name=file_name,
        )
    )


def _script_lines(
    result: ScanResult,
    level: str = "safe",
    *,
    cluster_label: str | None = None,
    generated_at: datetime | None = None,
    verification: object | None = None,
    file_name: str = DEFAULT_FILE_NAME,
) -> list[str]:
    """:func:`render_sql_script`'s lines: the script is ``"\\n".join`` of them."""
    if level not in LEVELS:
        raise UsageError(f"remediation level must be one of {', '.join(LEVELS)}, not {level!r}")
    login_roles = _login_roles(result)
    errors: list[tuple[Finding, str]] = []
    findings = list(result.findings)
    failed: list[tuple[Finding, str]] = []
    if verification is not None:  # follow-up fixes folded in; what failed on the twin out
        findings, failed = verification.script_findings(result)  # type: ignore[attr-defined]
    ordered = _sorted_findings(findings)  # once: 57,000 findings take 40 ms to sort
    stmts = _statements_of(ordered, login_roles, errors)
    maintenance = _maintenance_db(result)
    when = (generated_at or datetime.now(UTC)).isoformat(timespec="seconds")
    server = result.meta.get("server_version")
    collected = result.meta.get("collected_at")
    n_destructive = sum(1 for s in stmts if s.destructive)

    lines: list[str] = [
        _HEAD_RULE,
        "-- pgaudit-roles remediation script",
        _comment("cluster:  ", _label(result, cluster_label)),
        *([_comment("server:    PostgreSQL", server)] if server else []),
        _comment(
            "generated:",
            when,
            "by pgaudit-roles",
            __version__,
            *(("(snapshot collected", f"{collected})") if collected else ()),
        ),
        _comment(
            "level:    ",
            level,
            "- destructive statements are",
            "emitted (marked DESTRUCTIVE)"
            if level == "all"
            else "listed as comments only; rerun with --remediation-level all to emit them",
        ),
        *[_comment(line) for line in outside_lines(result.outside_framework)],
        *(
            _verification_lines(verification)
            if verification is not None
            else [_comment("verified:  no (unverified: generated without a twin; see --verify)")]
        ),
        "--",
        "-- REVIEW BEFORE RUNNING. This script changes privileges, ownership and roles.",
        "-- Run it as a superuser (or as the owners of the objects) with:",
        _comment("    psql -X -v ON_ERROR_STOP=1 -f", _shell_word(file_name)),
        "-- Each database's changes run in one transaction: the first error stops the script",
        "-- and rolls that database back (databases already committed stay changed).",
        "-- Order: grants, ownership changes, grants to the former owners, other changes,",
        "-- revokes, drops; DROP ROLE last.",
        "-- Destructive means DROP, DROP OWNED, ALTER ROLE ... NOLOGIN, REVOKE from a role",
        "-- that can log in, or a fix its rule declares destructive. CASCADE is never used.",
        "-- No password or secret is ever written here: use your secrets manager.",
        _HEAD_RULE,
        "",
        "\\set ON_ERROR_STOP on",
        "",
    ]

    manual = [f for f in ordered if f.suppressed is None and f.manual and not f.remediation]
    manual += [f for f in ordered if f.suppressed is None and f.manual and f.remediation]
    if manual:
        lines += [_HEAD_RULE, "-- MANUAL STEPS: findings without a safe automatic fix", _HEAD_RULE]
        steps: dict[str, list[str]] = {}  # a rule's findings share its procedure's text
        for f in manual:
            lines += _finding_header(f)
            text = f.manual or ""
            if type(text) is not str:
                lines += _comment_lines(text, indent="    ")
            elif (known := steps.get(text)) is not None:
                lines += known
            else:
                lines += steps.setdefault(text, _comment_lines(text, indent="    "))
            lines.append("--")
        lines.append("")

    waived = [f for f in ordered if f.suppressed is not None]
    if waived:
        lines += [_HEAD_RULE, "-- WAIVED findings (not fixed by this script)", _HEAD_RULE]
        for f in waived:
            why = f.suppressed or {}
            lines += _finding_header(f)
            lines.append(
                _comment(
                    "    waived:",
                    why.get("reason"),
                    "| owner:",
                    why.get("owner"),
                    *(("| expires:", why.get("expires")) if why.get("expires") else ()),
                )
            )
        lines.append("")

    if failed:
        lines += [
            _HEAD_RULE,
            "-- LEFT OUT after verification on the twin (a statement failed there, or",
            "-- the fix is withheld at this level)",
            _HEAD_RULE,
        ]
        for f, msg in failed:
            lines += _finding_header(f)
            lines.append(_comment("    ERROR:", msg))
            lines += _comment_lines(f.remediation or "", indent="    ")
        lines.append("")

    if errors:
        lines += [
            _HEAD_RULE,
            "-- NOT EMITTED: remediation that failed the safety checks",
            _HEAD_RULE,
        ]
        for f, msg in errors:
            lines += _finding_header(f)
            lines.append(_comment("    ERROR:", msg))
        lines.append("")

    if not stmts:
        lines += ["-- Nothing to run: no finding has SQL remediation.", ""]
        return lines

    # How many (section, phase) chunks each finding spans, to label "part i/n".
    chunks: dict[str, list[tuple[tuple[int, str], int]]] = {}
    sections = _sections(stmts, maintenance)
    for sec in sections:
        for s in sec.stmts:
            key = (sec.key, s.phase)
            lst = chunks.setdefault(s.finding.fingerprint, [])
            if key not in lst:
                lst.append(key)

    for sec in sections:
        lines += [
            _HEAD_RULE,
            _comment(sec.title.upper() if sec.key[0] != 1 else sec.title),
            _HEAD_RULE,
            psql_connect(sec.database),
            "SET client_encoding = 'UTF8';",
            "SET standard_conforming_strings = on;",
        ]
        if sec.transaction:
            lines.append("BEGIN;")
        lines.append("")
        seen: dict[str, Finding] = {}
        order = sorted(sec.stmts, key=lambda s: s.phase)  # stable: keeps rule/finding order
        current_phase: int | None = None
        current_rule: str | None = None
        current_finding: str | None = None
        for s in order:
            if s.phase != current_phase:
                if current_phase is not None:
                    lines.append("")
                current_phase, current_rule, current_finding = s.phase, None, None
                lines.append(_comment(f"---- {_PHASE_NAMES[s.phase]} ----"))
            if s.finding.rule_id != current_rule:
                current_rule = s.finding.rule_id
                lines += ["", _comment(f"rule {s.finding.rule_id}")]
            if s.finding.fingerprint != current_finding:
                current_finding = s.finding.fingerprint
                parts = chunks[s.finding.fingerprint]
                label = (
                    f"(part {parts.index((sec.key, s.phase)) + 1} of {len(parts)})"
                    if len(parts) > 1
                    else ""
                )
                lines += _finding_header(s.finding, label)
            statement = s.sql + ";"
            if statement in seen:
                lines.append(
                    _comment(
                        "    (same statement already above, for finding",
                        seen[statement].fingerprint + ")",
                    )
                )
                continue
            seen[statement] = s.finding
            lines += _password_note(s)
            if s.destructive:
                if level == "all":
                    lines.append("-- DESTRUCTIVE: review")
                    lines.append(statement)
                else:
                    lines.append(
                        "-- DESTRUCTIVE: review - omitted at level safe "
                        "(--remediation-level all emits it):"
                    )
                    lines.append(_comment("    ", statement))
            else:
                lines.append(statement)
        lines.append("")
        if sec.transaction:
            lines.append("COMMIT;")
        else:
            lines.append("SELECT pg_catalog.pg_reload_conf();")
        lines.append("")
    if level == "safe" and n_destructive:
        lines.append(
            _comment(
                f"{n_destructive} destructive statement(s) were listed as comments "
                "only (level safe)."
            )
        )
    lines += ["-- end of remediation script", ""]
    return lines


def write_report(ctx: ReportContext, fh: IO[str]) -> None:
    """The registry's entry point (registry.REPORTERS): the header names the file this run
    writes (``pgaudit-report.sql`` when the script goes to stdout)."""
    lines = _script_lines(
        ctx.result,
        ctx.options.sql_level,
        verification=ctx.options.sql_verification,
        file_name=ctx.path_of("sql", DEFAULT_FILE_NAME),
    )
    # written a few thousand lines at a time, not joined whole: one name that is not
    # ASCII made the whole 41 MB script of the bench's large preset a wide string, which
    # the file's UTF-8 encoder then copied character by character (0.1 s)
    for start in range(0, len(lines), _LINES_PER_WRITE):
        if start:
            fh.write("\n")
        fh.write("\n".join(lines[start : start + _LINES_PER_WRITE]))


_LINES_PER_WRITE = 4096
