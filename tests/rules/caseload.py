"""Reading and checking rule case files (tests/rules/cases/<RULE_ID>.toml).

Kept apart from the test module so the meta-tests can validate every case file without a
server, and so a malformed case file fails loudly with the file name instead of being
silently skipped.

Case file format::

    [[case]]
    name = "app login role owns a table"      # unique within the file
    expect = "fail"                            # "fail" | "pass"
    min_version = 15                           # optional: run on this major and later
    max_version = 14                           # optional: run on this major and earlier
    cluster_setup = "CREATE ROLE app_{p} LOGIN;"   # optional, run in database postgres
    setup = "CREATE TABLE t(i int); ALTER TABLE t OWNER TO app_{p};"  # in the fresh db
    hba = "host all all 0.0.0.0/0 trust"       # optional pg_hba text, given as --hba-file
    collect_as = "superuser"                   # or "auditor" (pg_monitor member)
    config = { naming = { breakglass = ["dba_{p}"] } }   # optional inline config
    isolated = true                            # optional: never run side by side (see below)
    connect_to = "postgres"                    # optional (auditor only): connect to this
                                               # database and read it and the case's; the
                                               # auditor gets CONNECT on this one only
    settings = { ssl = "on" }                  # optional server settings for this case only
    inventory = "[[targets]] ..."              # fleet rules (reported_by = "fleet"): a fleet
                                               # inventory run with `pgaudit-roles fleet`
    [case.match]                               # fail cases: a finding with these fields
    role = "app_{p}"
    database = "{db}"
    details = { evidence = "direct" }          # optional: columns of the rule's row

The first fail and the first pass case that run on every version (and show some setup)
are the rule's "Anti-pattern" and "Best practice" in docs/rules.md
(pgaudit_roles/rule_examples.py): order the file to choose them.

``{p}`` becomes a unique lowercase prefix for cluster-wide names (roles); every role whose
name contains it is dropped afterwards. ``{db}`` is the fresh database's name. In an
``inventory`` (a case of a rule the fleet command reports itself, PGR-FLEET-001), ``{host}``
and ``{port}`` are the test server's, ``{user}`` is the collecting role and
``{closed_port}`` a local TCP port where no server listens; the case runs alone, through
the fleet, and its findings are the ones about targets whose name holds ``{p}``. SQL runs as
the superuser. A case with ``hba`` is collected as the auditor without the pg_hba grants,
so the collector reads the given file instead of the server's pg_hba_file_rules.

``settings`` are applied to the (shared) test server with ALTER SYSTEM and a reload before
the case and reset afterwards, so the collector reads them from pg_settings like any other
value; a case whose setting the server build cannot take (``ssl`` on a build without SSL)
is skipped with the server's message. Without it the test server runs with
``log_statement = 'all'`` (the lines written only for tests that read the log),
``ssl = off``, ``log_connections``/``log_disconnections`` off and
``password_encryption = 'scram-sha-256'`` (see tests/conftest.py and localpg.py).

Cases run side by side (each in its own database, with its own prefix; a case without
``setup`` that never names ``{db}`` shares its group's pristine database), collected once
per group: superuser cases, auditor cases, cases with a ``config`` (evaluated one by one on
their group's snapshot) and ``hba`` cases (the text parsed offline into one collected
snapshot); a case with ``settings`` or ``isolated = true`` runs alone. A case only ever
sees findings that concern it: in its database, with its prefix in the role, object or
schema name, or cluster-level pg_hba and setting findings. Mark a case ``isolated`` when it
changes something cluster-wide that is not named with ``{p}`` (grants to PUBLIC on shared
objects, ALTER SYSTEM outside ``settings``, a helper that shows the auditor every role) or
when its rule counts across the whole cluster; ``PGAUDIT_CASES_ISOLATED=1`` runs every case
alone.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CASES_DIR = Path(__file__).resolve().parent / "cases"
CASE_KEYS = {
    "name",
    "expect",
    "min_version",
    "max_version",
    "setup",
    "cluster_setup",
    "hba",
    "config",
    "settings",
    "collect_as",
    "match",
    "isolated",
    "connect_to",
    "inventory",
}
SETTING_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$")
FINDING_MATCH_KEYS = {
    "rule_id",
    "severity",
    "database",
    "object_type",
    "schema",
    "object_name",
    "object_identity",
    "role",
    "details",
    "message_contains",
}


class CaseFileError(Exception):
    pass


@dataclass(frozen=True)
class Case:
    rule_id: str
    name: str
    expect: str
    setup: str = ""
    cluster_setup: str = ""
    hba: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)
    collect_as: str = "superuser"
    match: dict[str, Any] = field(default_factory=dict)
    min_version: int | None = None
    max_version: int | None = None
    isolated: bool = False
    connect_to: str | None = None
    inventory: str | None = None
    path: str = ""

    @property
    def id(self) -> str:
        slug = "".join(c if c.isalnum() else "-" for c in self.name.lower()).strip("-")
        while "--" in slug:
            slug = slug.replace("--", "-")
        return f"{self.rule_id}:{slug}"

    def applies_to(self, major: int) -> bool:
        return (self.min_version is None or major >= self.min_version) and (
            self.max_version is None or major <= self.max_version
        )


def load_case_file(path: Path) -> list[Case]:
    where = str(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CaseFileError(f"{where}: invalid TOML: {exc}") from None
    if set(doc) != {"case"} or not isinstance(doc["case"], list) or not doc["case"]:
        raise CaseFileError(f"{where}: expected one or more [[case]] tables and nothing else")
    rule_id = path.stem
    cases: list[Case] = []
    names: set[str] = set()
    for i, c in enumerate(doc["case"], 1):
        at = f"{where}: case {i}"
        unknown = set(c) - CASE_KEYS
        if unknown:
            raise CaseFileError(f"{at}: unknown key {sorted(unknown)[0]!r}")
        name = c.get("name")
        if not isinstance(name, str) or not name.strip():
            raise CaseFileError(f"{at}: 'name' is required")
        if name in names:
            raise CaseFileError(f"{at}: duplicate case name {name!r}")
        names.add(name)
        expect = c.get("expect")
        if expect not in ("fail", "pass"):
            raise CaseFileError(f"{at} ({name}): expect must be 'fail' or 'pass'")
        collect_as = c.get("collect_as", "superuser")
        if collect_as not in ("superuser", "auditor"):
            raise CaseFileError(f"{at} ({name}): collect_as must be 'superuser' or 'auditor'")
        if c.get("hba") is not None and "collect_as" in c and collect_as != "auditor":
            raise CaseFileError(f"{at} ({name}): a case with 'hba' is collected as the auditor")
        match = c.get("match", {})
        if not isinstance(match, dict):
            raise CaseFileError(f"{at} ({name}): [case.match] must be a table")
        bad = set(match) - FINDING_MATCH_KEYS
        if bad:
            raise CaseFileError(
                f"{at} ({name}): unknown match field {sorted(bad)[0]!r} "
                f"(known: {', '.join(sorted(FINDING_MATCH_KEYS))})"
            )
        if expect == "fail" and not match:
            raise CaseFileError(
                f"{at} ({name}): a fail case needs [case.match] naming the "
                "finding it expects (role, database, object_name, ...)"
            )
        for key in ("setup", "cluster_setup", "hba", "inventory"):
            if key in c and not isinstance(c[key], str):
                raise CaseFileError(f"{at} ({name}): {key!r} must be a string")
        for key in ("min_version", "max_version"):
            if key in c and (not isinstance(c[key], int) or not 13 <= c[key] <= 99):
                raise CaseFileError(f"{at} ({name}): {key!r} must be a major version like 15")
        isolated = c.get("isolated", False)
        if not isinstance(isolated, bool):
            raise CaseFileError(f"{at} ({name}): 'isolated' must be true or false")
        connect_to = c.get("connect_to")
        if connect_to is not None and (
            not isinstance(connect_to, str) or not connect_to or collect_as != "auditor"
        ):
            raise CaseFileError(
                f"{at} ({name}): 'connect_to' must name a database, and the "
                'case must say collect_as = "auditor"'
            )
        if c.get("inventory") is not None and any(
            k in c for k in ("hba", "connect_to", "settings")
        ):
            raise CaseFileError(
                f"{at} ({name}): a fleet case ('inventory') takes no 'hba', 'connect_to' "
                "or 'settings': put them in the inventory's targets"
            )
        config = c.get("config", {})
        if not isinstance(config, dict):
            raise CaseFileError(f"{at} ({name}): 'config' must be an inline table")
        settings = c.get("settings", {})
        if not isinstance(settings, dict) or not all(
            isinstance(k, str) and SETTING_NAME_RE.match(k) and isinstance(v, str)
            for k, v in settings.items()
        ):
            raise CaseFileError(
                f"{at} ({name}): 'settings' must be an inline table of "
                'setting name = "value" (strings)'
            )
        cases.append(
            Case(
                rule_id=rule_id,
                name=name,
                expect=expect,
                setup=c.get("setup", ""),
                cluster_setup=c.get("cluster_setup", ""),
                hba=c.get("hba"),
                config=config,
                settings=settings,
                collect_as="auditor" if c.get("hba") is not None else collect_as,
                match=match,
                min_version=c.get("min_version"),
                max_version=c.get("max_version"),
                isolated=isolated,
                connect_to=connect_to,
                inventory=c.get("inventory"),
                path=where,
            )
        )
    return cases


def all_cases(directory: Path = CASES_DIR) -> list[Case]:
    out: list[Case] = []
    for path in sorted(directory.glob("*.toml")):
        out += load_case_file(path)
    return out


def substitute(value: Any, p: str, db: str) -> Any:
    """Replace {p} and {db} in strings, recursively through tables and lists."""
    if isinstance(value, str):
        return value.replace("{p}", p).replace("{db}", db)
    if isinstance(value, dict):
        return {substitute(k, p, db): substitute(v, p, db) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, p, db) for v in value]
    return value
