"""Load and validate rule files: one TOML file per rule, data not code.

Why strict validation at load time: rules are written by us and by users (``--rules-dir``),
their queries run inside the scanner, and their templates produce SQL that people paste
into production. A mistake is cheaper as one clear load error naming the file (exit 2)
than as a wrong report. Queries are checked with sqlglot: exactly one SELECT over the
documented audit tables, nothing that writes, attaches, loads or reads files. The DuckDB
sandbox (see ``engine``) is the second line of defence, not the first.

Heavy libraries (sqlglot, jinja2) are imported inside functions so that importing this
module stays cheap for ``--help``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..audit import audit_schema
from ..audit.audit_schema import AUDIT_TABLES
from ..audit.limits import QueryTimeout, query_timeout, run_limited
from ..collect.snapshot import SOURCES, Snapshot
from ..core import resources, usercache
from ..core.errors import RuleError
from ..core.model import FIX_SAFETY, SEVERITIES, Reference, Rule
from ..core.model import resolve_ids as resolve_ids  # re-exported: it lives with Rule
from . import remediation, rule_dir_cache, validated_rules
from .messages import template_env
from .statement_checks import CHECKS

RULE_ID_RE = re.compile(r"^PGR-[A-Z]+-\d{3}$")
USER_RULE_ID_RE = re.compile(r"^[A-Z][A-Z0-9]{1,15}-[A-Z]+-\d{3}$")
"""Built-in rules use PGR-; user rules may use their own prefix (ACME-ROLE-001), so their
ids can never collide with a rule we add later."""
CATEGORIES: tuple[str, ...] = (
    "roles",
    "ownership",
    "privileges",
    "default-privileges",
    "hba",
    "settings",
    "migrations",
    "coverage",
)
OBJECT_TYPES: tuple[str, ...] = (
    "role",
    "membership",
    "database",
    "schema",
    "relation",
    "table",
    "view",
    "sequence",
    "column",
    "function",
    "type",
    "language",
    "large_object",
    "fdw",
    "server",
    "tablespace",
    "parameter",
    "default_privilege",
    "hba_rule",
    "setting",
    "session",
    "object",
    "cluster",
    "statement",
    "source",
    "target",
)
REFERENCE_KINDS: tuple[str, ...] = ("guide", "cis", "docs", "other")
MAX_TITLE = 150

REQUIRED_KEYS: tuple[str, ...] = (
    "id",
    "title",
    "severity",
    "category",
    "object_type",
    "rationale",
    "references",
    "message",
    "fix_safety",
)
OPTIONAL_KEYS: tuple[str, ...] = (
    "aliases",
    "min_server_version",
    "requires",
    "remediation",
    "manual",
    "destructive",
    "tags",
    "query",
    "check",
    "covers",
    "draft",
    "reported_by",
)
"""Exactly one of ``query`` (a SELECT over the audit schema), ``check`` (a statement
predicate of ``lint``, by name) and ``reported_by`` (a command that reports the finding
itself, built-in rules only) is required."""
REPORTERS: tuple[str, ...] = ("fleet",)
"""Commands that report a built-in rule's findings themselves (``Rule.reported_by``)."""

SOURCE_NAMES = SOURCES
"""Snapshot sources a rule may ``require``: the snapshot's own list (collect stage)."""

# Functions a rule may never call, by lower-case name: anything that reads or writes files,
# reaches the network, loads code, runs SQL text, or inspects the DuckDB process.
_DENIED_FUNCTIONS = (
    r"^(read_|write_|to_file$|glob$|getenv$|current_setting$|json_execute|query$|query_table$|"
    r"sniff_|parquet_|pragma|duckdb_|checkpoint$|force_checkpoint$|enable_|disable_|install|"
    r"load|attach|detach|copy|export|import|http|s3_|azure|gcs|iceberg|delta_|sqlite_|"
    r"postgres_|mysql_|python_|arrow_|pandas_|register_|create_external|deregister_|"
    r"destroy_external|which_secret|truncate_duckdb|add_grammar|remove_grammar|set_?variable$|"
    r"system$|shell$|seq_scan$|summary$|test_all_types$|test_vector_types$)"
)


@functools.cache
def _denied_function_re() -> re.Pattern[str]:
    """:data:`_DENIED_FUNCTIONS`, compiled on first use: only a rule query that is not in the
    validation cache is checked (a scan with the built-in rules usually checks none), and
    compiling the pattern is ~0.4 ms of every process's import."""
    return re.compile(_DENIED_FUNCTIONS, re.IGNORECASE)


def audit_tables() -> frozenset[str]:
    """The table names a rule query may read: the audit schema's documented tables."""
    return frozenset(AUDIT_TABLES)


# --- public API -----------------------------------------------------------------------------


def load_rules(
    extra_dirs: Sequence[Path | str] = (), *, builtin: bool = True, full_validation: bool = False
) -> list[Rule]:
    """Load built-in rules plus every ``*.toml`` rule in ``extra_dirs`` (user rules).

    Raises RuleError ("<file>: <problem>") for the first invalid file, and for an id or
    alias used twice anywhere (built-in or user): ids are never reused. Query and template
    validation is skipped for files known to be valid (``validated_rules``: the built-in
    manifest, the user cache) unless ``full_validation``.
    """
    rules: list[Rule] = []
    if builtin:
        rules += load_dir(resources.rules_dir(), origin="builtin", full_validation=full_validation)
    for d in extra_dirs:
        path = Path(d)
        if not path.is_dir():
            raise RuleError(f"--rules-dir {path}: not a directory")
        rules += load_dir(path, origin="user", full_validation=full_validation)
    check_unique(rules)
    return sorted(rules, key=lambda r: r.id)


def load_dir(directory: Path, origin: str = "user", *, full_validation: bool = False) -> list[Rule]:
    """Every ``*.toml`` directly in ``directory`` (sub-directories such as frameworks/ are not rules).

    A directory whose files, and the code, are as they were at an earlier successful load
    gives that load's rules from one user-cache entry (``rule_dir_cache``) instead of
    reading its files one by one; never with ``full_validation``."""
    if not directory.is_dir():
        return []
    paths = sorted(directory.glob("*.toml"))
    current = None if full_validation else rule_dir_cache.state(directory, paths, origin)
    if current is not None:
        kept = rule_dir_cache.read(current)
        if kept is not None:
            return kept
    rules = [load_rule_file(p, origin=origin, full_validation=full_validation) for p in paths]
    if current is not None and (origin != "builtin" or _manifest_lists_all(paths)):
        rule_dir_cache.write(current, rules)
    return rules


def _manifest_lists_all(paths: Sequence[Path]) -> bool:
    """Whether the manifest vouches for every built-in file in ``paths`` as it is now (the
    others are validated at every load, so their directory is not kept)."""
    try:
        return all(
            validated_rules.builtin_is_validated(p, validated_rules.digest(p.read_bytes()))
            for p in paths
        )
    except OSError:
        return False


def load_rule_file(path: Path, origin: str = "user", *, full_validation: bool = False) -> Rule:
    """Parse and validate one rule file.

    The query and templates of a file known to be valid (a built-in file listed in the
    manifest, a user file validated before by this code: see ``validated_rules``) are not
    validated again, unless ``full_validation``. Every other check always runs.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RuleError(f"{path}: cannot read rule file ({exc})") from None
    if full_validation or origin != "builtin":
        # asked to check everything now, or a user's rule (its validation is remembered in
        # the user's cache, see validated_rules): never an earlier load's answer
        return _load_rule_bytes(path, data, origin, full_validation)
    key = (str(path), origin, data)
    loaded = _LOADED.get(key)
    if loaded is not None:
        return dataclasses.replace(loaded)  # every field is immutable: a copy of its own
    rule = _load_rule_bytes(path, data, origin, False)
    if len(_LOADED) >= _LOADED_MAX:
        _LOADED.clear()
    _LOADED[key] = rule
    return dataclasses.replace(rule)


_LOADED: dict[tuple[str, str, bytes], Rule] = {}
_LOADED_MAX = 4096
"""Built-in rules already loaded by this process, by path and exact file content: parsing
the TOML is most of a load (about 60 ms for the built-in set), and a process that loads
the rules more than once (the test suite's in-process CLI runs, a fleet) paid it every
time. Only a rule that loaded is kept, so a broken file gives its error every time; a
load with ``full_validation`` never uses it, nor does a user rule."""


def _load_rule_bytes(path: Path, data: bytes, origin: str, full_validation: bool) -> Rule:
    try:
        # as read_text() would give it: universal newlines
        text = data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as exc:
        raise RuleError(f"{path}: cannot read rule file ({exc})") from None
    import tomllib  # ~4 ms of import a run that finds its rules in the cache never pays

    file_digest = validated_rules.digest(data)
    try:
        doc = parse_toml(text, file_digest)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{path}: invalid TOML: {exc}") from None
    except RecursionError:
        raise RuleError(f"{path}: invalid TOML: nested too deeply") from None
    known = False
    if not full_validation:
        known = (
            validated_rules.builtin_is_validated(path, file_digest)
            if origin == "builtin"
            else validated_rules.user_is_validated(file_digest)
        )
    rule = rule_from_mapping(doc, path=path, origin=origin, text=text, validate=not known)
    if origin != "builtin" and not known:
        validated_rules.remember_user_validated(file_digest)
    return rule


TOML_CACHE = "rule-toml"
"""User-cache subdirectory of parsed rule files (``core.usercache``)."""


def parse_toml(text: str, file_digest: str) -> dict[str, Any]:
    """``tomllib.loads(text)``, kept in the user's cache as JSON under the file's digest.

    Why: tomllib is pure Python, and parsing the 85 built-in rule files was about 25 ms of
    every run (a third of a small ``check``'s start-up); JSON is read in C. An entry is
    written only when its JSON gives back exactly the parsed document, and its key holds
    the file's digest, the tool version and the code fingerprint, so any other bytes or
    code parse again. A file that does not parse is never cached: its error comes every
    time."""
    import tomllib  # see _load_rule_bytes

    name = usercache.key(TOML_CACHE, file_digest)
    cached = usercache.read(TOML_CACHE, name)
    if cached is not None:
        with contextlib.suppress(ValueError):
            doc = json.loads(cached)
            if isinstance(doc, dict):
                return doc
    doc = tomllib.loads(text)
    with contextlib.suppress(TypeError, ValueError):  # a date, say: not kept
        encoded = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
        if json.loads(encoded) == doc:
            usercache.write(TOML_CACHE, name, encoded)
    return doc


def rule_from_mapping(
    doc: Mapping[str, Any],
    *,
    path: Path,
    origin: str = "user",
    text: str | None = None,
    validate: bool = True,
) -> Rule:
    """Validate a parsed rule document and build the Rule (file name must equal the id).

    ``validate=False`` skips the query and template validation (sqlglot, DuckDB binding,
    Jinja2, remediation filters) for a file known to be valid; the structural checks run.
    """
    where = str(path)
    check_keys(doc, REQUIRED_KEYS, OPTIONAL_KEYS, where)

    rid = _str(doc, "id", where)
    id_re = RULE_ID_RE if origin == "builtin" else USER_RULE_ID_RE
    if not id_re.match(rid):
        hint = (
            "" if origin == "builtin" else " or <PREFIX>-<CATEGORY>-<3 digits> (e.g. ACME-ROLE-001)"
        )
        raise RuleError(
            f"{where}: id {rid!r} does not match PGR-<CATEGORY>-<3 digits>{hint}, e.g. PGR-ROLE-001"
        )
    if path.stem != rid:
        raise RuleError(f"{where}: file name must be the rule id ({rid}.toml), not {path.name}")

    title = _str(doc, "title", where)
    if len(title) > MAX_TITLE:
        raise RuleError(f"{where}: title is {len(title)} characters, at most {MAX_TITLE} allowed")
    if title.lower().startswith("ensure"):
        raise RuleError(f"{where}: title must state the secure condition, not start with 'Ensure'")

    severity = _choice(doc, "severity", SEVERITIES, where)
    category = _choice(doc, "category", CATEGORIES, where)
    object_type = _choice(doc, "object_type", OBJECT_TYPES, where)
    fix_safety = _choice(doc, "fix_safety", FIX_SAFETY, where)
    rationale = _str(doc, "rationale", where)
    message = _str(doc, "message", where)
    if sum(k in doc for k in ("query", "check", "reported_by")) != 1:
        raise RuleError(
            f"{where}: a rule needs exactly one of 'query' (SQL over the audit "
            "schema), 'check' (a lint statement predicate) or 'reported_by' (built-in "
            "rules a command reports itself)"
        )
    reported_by = None
    if "reported_by" in doc:
        if origin != "builtin":
            raise RuleError(
                f"{where}: 'reported_by' is for built-in rules a command reports itself; "
                "a user rule needs a 'query'"
            )
        reported_by = _choice(doc, "reported_by", REPORTERS, where)
    check = _opt_str(doc, "check", where)
    query = _str(doc, "query", where) if "query" in doc else ""
    covers = _str_list(doc, "covers", where)

    remediation = _opt_str(doc, "remediation", where)
    manual = _opt_str(doc, "manual", where)
    if remediation is None and manual is None:
        raise RuleError(
            f"{where}: a rule needs 'remediation' (SQL template) or 'manual' (written procedure)"
        )
    if fix_safety == "manual" and manual is None:
        raise RuleError(f"{where}: fix_safety = 'manual' needs a 'manual' procedure")

    destructive = doc.get("destructive", False)
    if not isinstance(destructive, bool):
        raise RuleError(f"{where}: 'destructive' must be true or false")
    draft = doc.get("draft", False)
    if not isinstance(draft, bool):
        raise RuleError(f"{where}: 'draft' must be true or false")

    msv = doc.get("min_server_version", 130000)
    if not isinstance(msv, int) or isinstance(msv, bool) or not 90000 <= msv < 1000000:
        raise RuleError(
            f"{where}: 'min_server_version' must be an integer like 130000 (PostgreSQL 13)"
        )

    aliases = _str_list(doc, "aliases", where)
    for a in aliases:
        if not USER_RULE_ID_RE.match(a):
            raise RuleError(f"{where}: alias {a!r} does not look like a rule id")
        if a == rid:
            raise RuleError(f"{where}: alias {a!r} is the rule's own id")
    requires = _str_list(doc, "requires", where)
    for s in requires:
        if s not in SOURCE_NAMES:
            raise RuleError(
                f"{where}: requires unknown source {s!r} (known: {', '.join(SOURCE_NAMES)})"
            )
    tags = _str_list(doc, "tags", where)
    references = _references(doc.get("references"), where)

    if validate:
        if check is not None:
            validate_check(check, where)
        elif reported_by is None:
            offset = _query_line_offset(text) if text is not None else 0
            validate_query(query, where, line_offset=offset)
        validate_message(message, where)
        if remediation is not None:
            validate_remediation(remediation, where)

    return Rule(
        id=rid,
        title=title,
        severity=severity,
        category=category,
        rationale=rationale.strip(),
        query=query,
        message=message.strip(),
        remediation=remediation,
        manual=manual,
        fix_safety=fix_safety,
        destructive=destructive,
        aliases=tuple(aliases),
        references=tuple(references),
        requires=tuple(requires),
        min_server_version=msv,
        object_type=object_type,
        tags=tuple(tags),
        path=where,
        origin=origin,
        check=check,
        covers=tuple(covers),
        draft=draft,
        reported_by=reported_by,
    )


def check_unique(rules: Iterable[Rule]) -> None:
    """Ids and aliases form one namespace across built-in and user rules."""
    seen: dict[str, Rule] = {}
    for r in rules:
        for name in (r.id, *r.aliases):
            other = seen.get(name)
            if other is not None:
                what = "id" if name == r.id else "alias"
                raise RuleError(
                    f"{r.path}: rule {what} {name} is already used by {other.path}"
                    " (rule ids and aliases are never reused)"
                )
            seen[name] = r


def find_rule(rules: Iterable[Rule], name: str) -> Rule | None:
    """A rule by id or alias."""
    for r in rules:
        if name == r.id or name in r.aliases:
            return r
    return None


# --- query validation -----------------------------------------------------------------------


def validate_check(name: str, where: str) -> None:
    """A statement rule names one of the predicates ``statement_checks`` defines (no code in data)."""
    if name not in CHECKS:
        raise RuleError(
            f"{where}: check {name!r} is not a known statement check "
            f"(known: {', '.join(sorted(CHECKS))})"
        )


def validate_query(
    sql: str, where: str, *, line_offset: int = 0, tables: frozenset[str] | None = None
) -> None:
    """Refuse anything but one SELECT over audit tables with no file/network/code access."""
    from sqlglot import exp
    from sqlglot.errors import ParseError, TokenError

    def fail(problem: str, line: int | None = None) -> RuleError:
        if line is not None:
            return RuleError(f"{where}:{line + line_offset}: query: {problem}")
        return RuleError(f"{where}: query: {problem}")

    try:
        statements = list(_parsed(sql))
    except ParseError as exc:
        err = exc.errors[0] if exc.errors else {}
        raise fail(f"does not parse: {err.get('description') or exc}", err.get("line")) from None
    except TokenError as exc:
        raise fail(f"does not parse: {exc}") from None
    if not statements:
        raise fail("is empty")
    if len(statements) > 1:
        raise fail(f"must be exactly one statement, found {len(statements)}")
    root = statements[0]
    if not isinstance(root, exp.Select | exp.SetOperation):
        raise fail(f"must be a SELECT, found {root.key.upper()}", _line(root))

    forbidden = tuple(getattr(exp, n) for n in _FORBIDDEN_NODES if hasattr(exp, n))
    for node in root.walk():
        if isinstance(node, forbidden):
            raise fail(f"{node.key.upper()} is not allowed (rules only read)", _line(node))

    allowed = tables if tables is not None else audit_tables()
    ctes = {c.alias_or_name.lower() for c in root.find_all(exp.CTE)}
    for table in root.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise fail(
                "table functions are not allowed in FROM (use unnest() or the audit tables)",
                _line(table),
            )
        if table.args.get("db") or table.args.get("catalog"):
            raise fail(
                f"qualified table name {table.sql(dialect='duckdb')!r} is not allowed;"
                " use the audit table names alone",
                _line(table),
            )
        name = table.name
        if name.lower() in ctes:
            continue
        if name not in allowed:
            raise fail(
                f"unknown table {name!r} (rules may read only the audit tables:"
                f" {', '.join(sorted(allowed))})",
                _line(table),
            )

    for func in root.find_all(exp.Func):
        for name in _function_names(func):
            if _denied_function_re().match(name):
                raise fail(
                    f"function {name}() is not allowed (no file, network, settings or"
                    " code access in rules)",
                    _line(func),
                )

    if tables is None:
        _bind_check(sql, fail)


@functools.lru_cache(maxsize=512)
def _parsed(sql: str) -> tuple[Any, ...]:
    """sqlglot's statements of ``sql`` (DuckDB dialect), parsed once per process.

    Why: parsing is most of a full validation, and a long process validates the same text
    again (``docgen`` renders the manifest after ``rules new`` wrote it; a test session
    loads the built-in rules in full many times). :func:`validate_query` only reads the
    trees. A text that does not parse raises every time (an exception is not cached)."""
    import sqlglot

    return tuple(s for s in sqlglot.parse(sql, read="duckdb") if s is not None)


def _bind_check(sql: str, fail: Any) -> None:
    """Parse and bind with DuckDB itself against an empty audit schema.

    sqlglot and DuckDB do not accept exactly the same language, and a misspelt column is
    only found by binding; both are load errors naming the file and line, rather than a
    rule that errors at every scan. DESCRIBE binds without running anything, on a locked
    down connection, after the checks above refused anything that reaches outside.
    """
    import duckdb

    text = sql.rstrip().rstrip(";")
    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error as exc:
        line, msg = _duckdb_error(exc)
        raise fail(f"does not parse in DuckDB: {msg}", line) from None
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise fail("must be exactly one SELECT (DuckDB's parser disagrees with sqlglot)")

    bound = (text, query_timeout(), audit_schema.memory_limit())
    if bound in _BOUND:
        return
    try:  # binding folds constants (range(3e9) is built here): under the same limits as a run
        run_limited(_binding_connection(), "DESCRIBE " + text)
    except QueryTimeout as exc:
        raise fail(f"binding {exc}") from None
    except (duckdb.Error, MemoryError) as exc:
        line, msg = _duckdb_error(exc)
        raise fail(f"does not bind against the audit schema: {msg}", line) from None
    if len(_BOUND) < 4096:
        _BOUND.add(bound)


_BOUND: set[tuple[str, float, str]] = set()
"""Texts that bound against :func:`_binding_connection` (the same schema for the whole
process) under the limits in force then: binding one again under the same limits gives
the same answer. Only successes: a text that fails is bound, and fails, every time."""


@functools.cache
def _binding_connection() -> Any:
    """The audit schema of an empty snapshot (tables, views and helper macros), locked down."""

    con = audit_schema.load(Snapshot(meta={}, cluster={}, databases=[]))
    audit_schema.lock_down(con)
    return con


def _duckdb_error(exc: Exception) -> tuple[int | None, str]:
    """(line in the query, first line of the message) from a DuckDB error."""
    text = str(exc)
    m = re.search(r"^LINE (\d+):", text, re.MULTILINE)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return (int(m.group(1)) if m else None), first


_FORBIDDEN_NODES = (
    "Insert",
    "Update",
    "Delete",
    "Merge",
    "Create",
    "Drop",
    "Alter",
    "Command",
    "Copy",
    "Set",
    "Pragma",
    "Attach",
    "Detach",
    "Install",
    "Use",
    "Transaction",
    "Commit",
    "Rollback",
    "Describe",
    "Show",
    "Into",
    "LoadData",
    "Export",
    "Summarize",
    "TruncateTable",
    "Grant",
    "Revoke",
    "Refresh",
    "Analyze",
    "Kill",
    "Cache",
    "Uncache",
)


def _function_names(func: Any) -> list[str]:
    from sqlglot import exp

    if isinstance(func, exp.Anonymous):
        return [str(func.name).lower()]
    names = [n.lower() for n in type(func).sql_names()]
    return names or [func.key.lower()]


def _line(node: Any) -> int | None:
    """The 1-based line of a node in the query text, when sqlglot kept it."""
    from sqlglot import exp

    for n in (node, *node.find_all(exp.Identifier, exp.Literal)):
        meta = getattr(n, "meta", None) or {}
        if "line" in meta:
            return int(meta["line"])
    return None


def _query_line_offset(text: str) -> int:
    """Lines before the query's first line in the file, so errors point at the file line."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"\s*query\s*=\s*(\"\"\"|''')?(.*)$", line)
        if m:
            opener, rest = m.group(1), m.group(2)
            if opener and rest.strip() in ("", "\\"):
                return i + 1  # query text starts on the next line
            return i
    return 0


# --- template validation --------------------------------------------------------------------


def validate_message(template: str, where: str) -> None:
    """The message is a Jinja2 text template; it must at least compile."""
    from jinja2 import TemplateSyntaxError

    try:
        template_env().parse(template)
    except TemplateSyntaxError as exc:
        raise RuleError(f"{where}: message template line {exc.lineno}: {exc.message}") from None


def validate_remediation(template: str, where: str) -> None:
    """Remediation templates may interpolate values only through quoting filters."""
    remediation.validate_template(template, where)


# --- small typed getters ----------------------------------------------------------------------


def check_keys(
    doc: Mapping[str, Any],
    required: Sequence[str],
    optional: Sequence[str],
    where: str,
    *,
    error: type[Exception] = RuleError,
) -> None:
    """Unknown or missing keys are errors: a typo must not silently drop a setting."""
    known = set(required) | set(optional)
    unknown = sorted(k for k in doc if k not in known)
    if unknown:
        raise error(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
    missing = [k for k in required if k not in doc]
    if missing:
        raise error(f"{where}: missing required key {missing[0]!r}")


def _str(doc: Mapping[str, Any], key: str, where: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RuleError(f"{where}: {key!r} must be a non-empty string")
    return value


def _opt_str(doc: Mapping[str, Any], key: str, where: str) -> str | None:
    if key not in doc:
        return None
    return _str(doc, key, where).strip()


def _choice(doc: Mapping[str, Any], key: str, choices: Sequence[str], where: str) -> str:
    value = doc.get(key)
    if value not in choices:
        raise RuleError(f"{where}: {key} {value!r} is not one of {', '.join(choices)}")
    return str(value)


def _str_list(doc: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = doc.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise RuleError(f"{where}: {key!r} must be a list of strings")
    return list(value)


def _references(value: Any, where: str) -> list[Reference]:
    if not isinstance(value, list) or not value:
        raise RuleError(
            f"{where}: 'references' must be a non-empty array of tables {{kind, text, url?}}"
        )
    out: list[Reference] = []
    for i, ref in enumerate(value, 1):
        at = f"{where}: references[{i}]"
        if not isinstance(ref, dict):
            raise RuleError(f"{at} must be a table {{kind, text, url?}}")
        check_keys(ref, ("kind", "text"), ("url",), at)
        kind = ref["kind"]
        if kind not in REFERENCE_KINDS:
            raise RuleError(f"{at}: kind {kind!r} is not one of {', '.join(REFERENCE_KINDS)}")
        text = ref["text"]
        if not isinstance(text, str) or not text.strip():
            raise RuleError(f"{at}: 'text' must be a non-empty string")
        url = ref.get("url")
        if url is not None and (not isinstance(url, str) or not re.match(r"^https?://\S+$", url)):
            raise RuleError(f"{at}: 'url' must be an http(s) URL")
        out.append(Reference(kind=kind, text=text.strip(), url=url))
    return out
