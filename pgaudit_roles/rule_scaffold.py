"""``pgaudit-roles rules new ID``: a new rule's files in one step (as squawk's ``xtask new-rule``).

It writes, in a source checkout:

- ``rules/<ID>.toml``: a skeleton the loader accepts, marked ``draft = true``;
- ``tests/rules/cases/<ID>.toml``: one fail and one pass case to fill in;
- a commented stub in each ``rules/frameworks/*.toml``, where the rule is to be mapped;

then regenerates the docs and the rule manifest (``docgen``), so the draft shows up in
docs/rules.md at once.

Why a valid draft rather than a file that fails to load: the author iterates with the real
loader (``rules show ID`` validates each edit of the query), the case runner and the docs,
and nothing else breaks meanwhile. A draft is never evaluated (the engine reports it
*skipped*, so a half-written query can neither report nor, worse, pass), and it cannot
ship: the meta-tests (tests/test_rule_meta.py) fail while any rule is a draft or any
``TODO(rules new)`` placeholder is left, naming the file. Refusals (a malformed or used
id, a file already there, no checkout) are one line, exit 2; every file is written through
a temporary file and a rename, and the ones written are removed again if a later one fails.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import docgen
from .core.atomic import write_text
from .core.errors import RuleError, UsageError
from .core.model import SEVERITIES, Rule
from .evaluate import validated_rules
from .evaluate.rules import CATEGORIES, OBJECT_TYPES, RULE_ID_RE, load_dir, rule_from_mapping

TODO = "TODO(rules new)"
"""The placeholder marker; a meta-test fails while one is left in rules/ or the cases."""
CASES_SUBDIR = Path("tests") / "rules" / "cases"


@dataclass(frozen=True)
class Scaffold:
    """What ``rules new`` wrote (paths in the checkout)."""

    rule: Path
    cases: Path
    frameworks: tuple[Path, ...]
    docs: tuple[Path, ...]


# category -> (object_type, query skeleton, case skeleton kind)
_SHAPES: dict[str, tuple[str, str, str]] = {
    "hba": (
        "hba_rule",
        """SELECT 'hba_rule' AS object_type, h.file_name AS object_name,
       concat_ws(' ', h.type, array_to_string(h.databases, ','),
                 array_to_string(h.users, ','), h.address, h.auth_method) AS object_identity,
       h.line_number, h.auth_method
FROM hba_rules h
WHERE h.error IS NULL
  AND false  -- {todo}: the insecure condition""",
        "hba",
    ),
    "settings": (
        "setting",
        """SELECT 'setting' AS object_type, s.name AS object_name,
       s.name AS object_identity, s.setting, s.source
FROM settings s
WHERE s.name = 'log_statement'  -- {todo}: the setting
  AND false                     -- {todo}: the insecure value""",
        "settings",
    ),
    "coverage": (
        "source",
        """SELECT 'source' AS object_type, c.source AS object_name,
       c.source AS object_identity, c.reason
FROM coverage c
WHERE c.status = 'not_collected'
  AND false  -- {todo}: the source""",
        "sql",
    ),
    "roles": (
        "role",
        """SELECT r.name AS role, 'role' AS object_type, r.name AS object_name,
       r.name AS object_identity, r.kind AS role_kind
FROM roles r
WHERE NOT r.predefined
  AND false  -- {todo}: the insecure condition""",
        "sql",
    ),
}
_OBJECTS = (
    "object",
    """SELECT o.database, o.schema, o.kind AS object_type, o.name AS object_name,
       o.identity AS object_identity, o.owner AS role
FROM objects o
WHERE NOT o.is_system
  AND false  -- {todo}: the insecure condition""",
    "sql",
)


def new_rule(
    rule_id: str,
    root: Path,
    *,
    category: str | None = None,
    severity: str = "medium",
    title: str | None = None,
) -> Scaffold:
    """Write the draft rule, its case file and the framework stubs under ``root``, then
    regenerate the docs. Raises UsageError (one line) before writing anything when the id
    is malformed or used, a file exists, or ``root`` is not a checkout."""
    rid = rule_id.strip().upper()  # as `rules show` reads an id
    if not RULE_ID_RE.match(rid):
        raise UsageError(
            f"rule id {rule_id!r} is malformed: built-in rule ids look like "
            "PGR-<CATEGORY>-<3 digits>, e.g. PGR-ROLE-017"
        )
    rules_dir, cases_dir = root / "rules", root / CASES_SUBDIR
    if not (rules_dir.is_dir() and cases_dir.is_dir() and (root / "README.md").is_file()):
        raise UsageError(
            f"{root}: not a pgaudit-roles source checkout (needs rules/, "
            f"{CASES_SUBDIR.as_posix()}/ and README.md): pass --root"
        )
    rule_path, cases_path = rules_dir / f"{rid}.toml", cases_dir / f"{rid}.toml"
    if rule_path.exists():
        raise UsageError(f"rule {rid} already exists ({rule_path}); rule ids are never reused")
    if cases_path.exists():
        raise UsageError(f"{cases_path}: already exists; rule ids are never reused")
    try:
        existing = load_dir(rules_dir, origin="builtin")
    except RuleError as exc:
        raise UsageError(f"cannot add a rule while another does not load: {exc}") from None
    _refuse_used(rid, existing)
    cat = category or _category_of(rid, existing)
    if cat == "migrations":
        raise UsageError(
            f"{rid}: statement rules (category migrations) need a check in "
            "pgaudit_roles/evaluate/statement_checks.py and cases in tests/data/lint: "
            "`rules new` scaffolds snapshot rules only"
        )
    if cat not in CATEGORIES:
        raise UsageError(f"category {cat!r} is not one of {', '.join(CATEGORIES)}")
    if severity not in SEVERITIES:
        raise UsageError(f"severity {severity!r} is not one of {', '.join(SEVERITIES)}")

    rule_text = render_rule(rid, cat, severity, title)
    # the skeleton must load: a draft that the loader refuses would be no starting point
    rule_from_mapping(tomllib.loads(rule_text), path=rule_path, origin="builtin", text=rule_text)
    writes: list[tuple[Path, str]] = [
        (rule_path, rule_text),
        (cases_path, render_cases(rid, _SHAPES.get(cat, _OBJECTS)[2])),
    ]
    fw_dir = rules_dir / "frameworks"
    frameworks = sorted(fw_dir.glob("*.toml")) if fw_dir.is_dir() else []
    for fw in frameworks:
        text = fw.read_text(encoding="utf-8")
        writes.append((fw, text.rstrip("\n") + "\n" + render_framework_stub(rid)))

    # (path, previous text) of everything this may write, to undo a partial run
    generated = [
        root / "README.md",
        root / docgen.RULES_DOC,
        root / docgen.AUDIT_SCHEMA_DOC,
        validated_rules.manifest_path(rules_dir),
    ]
    saved = [
        (p, p.read_text(encoding="utf-8") if p.exists() else None)
        for p in [*(w[0] for w in writes), *generated]
    ]
    try:
        for path, text in writes:
            write_text(path, text)
        docs = docgen.write(root)
    except BaseException:
        for path, before in saved:
            if before is None:
                path.unlink(missing_ok=True)
            elif not path.exists() or path.read_text(encoding="utf-8") != before:
                write_text(path, before)
        raise
    return Scaffold(
        rule=rule_path, cases=cases_path, frameworks=tuple(frameworks), docs=tuple(docs)
    )


def _refuse_used(rid: str, existing: Sequence[Rule]) -> None:
    for r in existing:
        if rid == r.id:
            raise UsageError(f"rule {rid} already exists ({r.path}); rule ids are never reused")
        if rid in r.aliases:
            raise UsageError(
                f"{rid} is a former id of {r.id} ({r.path}); rule ids are never reused"
            )


def _category_of(rid: str, existing: Sequence[Rule]) -> str:
    """The category the catalogue uses most for the id's middle part (ROLE -> roles)."""
    part = rid.split("-")[1]
    seen = Counter(r.category for r in existing if r.id.split("-")[1] == part)
    if not seen:
        raise UsageError(
            f"{rid}: no rule uses {part!r} yet, so its category is unknown: give "
            f"--category ({', '.join(c for c in CATEGORIES if c != 'migrations')})"
        )
    return seen.most_common(1)[0][0]


def render_rule(rid: str, category: str, severity: str, title: str | None) -> str:
    """The draft rule file: every key the loader knows, with TODO placeholders in text."""
    object_type, query, _kind = _SHAPES.get(category, _OBJECTS)
    assert object_type in OBJECT_TYPES
    shown_title = title or f"{TODO}: the secure condition this rule checks"
    return f'''# Draft written by `pgaudit-roles rules new {rid}`. Fill in every {TODO}, write the
# cases in {CASES_SUBDIR.as_posix()}/{rid}.toml, map it in rules/frameworks/*.toml, then
# delete `draft = true` and run `python -m pgaudit_roles.docgen`. Keys and the audit
# schema: README.md ("Writing a custom rule") and docs/audit-schema.md.
id = "{rid}"
draft = true  # a draft is never evaluated (skipped) and the meta-tests refuse to ship one
title = {_toml_str(shown_title)}
severity = "{severity}"
category = "{category}"
object_type = "{object_type}"
rationale = """
{TODO}: why the condition matters: what an attacker or a mistake can do when it does not
hold, and what the production role guide says about it.
"""
references = [
  {{ kind = "guide", text = "{TODO}: guide section: the sentence this rule enforces" }},
]
requires = []  # {TODO}: the snapshot sources the query needs (e.g. "roles", "hba_rules")
tags = []
query = """
-- {TODO}: one row per violation. Columns named role, database, object_type, schema,
-- object_name and object_identity fill the finding; every other column is a detail the
-- message and the remediation can use.
{query.format(todo=TODO)}
"""
message = """
{TODO}: what is wrong, naming the object ({{{{ object_identity }}}}).
"""
manual = """
{TODO}: how to fix it by hand. Add a `remediation` SQL template when the fix is one
statement (every value through a quoting filter: {{{{ role|role }}}}, {{{{ identity|ident }}}}).
"""
fix_safety = "manual"
destructive = false
'''


def render_cases(rid: str, kind: str) -> str:
    """The case file: a fail and a pass case in the form the category needs."""
    head = (
        f"# Cases of {rid} (format: tests/rules/caseload.py), run on PostgreSQL 13-18 by\n"
        "# tests/rules/test_rule_cases.py. The first fail and the first pass case that run on\n"
        "# every version are the rule's Anti-pattern and Best practice in docs/rules.md.\n"
        "# Name cluster-wide objects with the {p} prefix.\n"
    )
    if kind == "hba":
        fail_body = 'hba = """\nhost all all 0.0.0.0/0 trust\n"""'
        pass_body = 'hba = """\nlocal all all peer\nhostssl all all 10.0.0.0/24 scram-sha-256\n"""'
        match = 'object_identity = "host all all 0.0.0.0/0 trust"'
    elif kind == "settings":
        fail_body = 'settings = { log_statement = "none" }'
        pass_body = 'settings = { log_statement = "ddl" }'
        match = 'object_name = "log_statement"'
    else:
        fail_body = 'cluster_setup = "CREATE ROLE app_{p} LOGIN;"'
        pass_body = 'cluster_setup = "CREATE ROLE app_{p} NOLOGIN;"'
        match = 'role = "app_{p}"'
    return (
        f'{head}\n[[case]]\nname = "{TODO}: a layout that breaks the rule"\n'
        f'expect = "fail"\n{fail_body}\n[case.match]\n{match}\n\n'
        f'[[case]]\nname = "{TODO}: the guide\'s layout, which keeps it"\n'
        f'expect = "pass"\n{pass_body}\n'
    )


def render_framework_stub(rid: str) -> str:
    return (
        f"\n# {TODO} {rid}: add it to the `rules` of the requirement it checks, or\n"
        "# delete this comment when it checks none of this framework's requirements.\n"
    )


def _toml_str(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)
