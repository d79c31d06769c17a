"""Coverage as data: what the snapshot holds, what it does not, why, and the grant that fixes it.

Why a module of its own: a compliance gate must never say PASS where it did not look. The
same list of gaps feeds the audit schema's ``coverage`` table (so the PGR-COV rules turn
each gap into a finding that gates and can be waived), the reports' "Not collected"
section, the engine's "not evaluated for database X" and the partial-answer note of
``explain``, ``who-can`` and ``query``. Computed from the snapshot alone (meta.sources,
the cluster's databases table and databases[].status/reason), so it works offline.

Database statuses:

- ``collected``: its catalogs were read;
- ``not_collected``: it could be entered in principle but was not read (no CONNECT
  privilege, connection refused or lost, a timeout or lock while reading): a gap;
- ``not_connectable``: nobody can connect to it (datallowconn false, e.g. template0, or an
  invalid database left by an interrupted DROP DATABASE): listed, not a gap;
- ``not_requested``: outside the ``--database`` selection the user asked for: not a gap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..core.sqlquote import quote_ident, role_spec
from ..core.text import printable

if TYPE_CHECKING:
    from .snapshot import Snapshot

COLUMNS: list[tuple[str, str, str]] = [
    (
        "source",
        "VARCHAR",
        """'database' for a database's catalogs; else the cluster-wide
     source: hba_rules, password_types, settings, activity, roles, memberships, ...""",
    ),
    ("database", "VARCHAR", "Database name for source 'database', else NULL"),
    (
        "status",
        "VARCHAR",
        """collected | not_collected (a gap: rules that need it are not
     evaluated there) | not_connectable (datallowconn false or an invalid database: nobody
     can connect) | not_requested (outside the --database selection)""",
    ),
    (
        "cause",
        "VARCHAR",
        """Why, as a keyword: no_connect_privilege, connect_failed,
     read_failed, connections_not_allowed, invalid_database, not_requested, no_privilege,
     failed; NULL when collected""",
    ),
    ("reason", "VARCHAR", "Why not, in words (the server's error when there was one)"),
    (
        "fix_sql",
        "VARCHAR",
        """The grant that lets the auditor read it, quoted (e.g. GRANT
     CONNECT ON DATABASE x TO auditor); NULL when no grant fixes it""",
    ),
    ("auditor", "VARCHAR", "The role the snapshot was collected as"),
]

GAP = "not_collected"

# Cluster-wide sources whose gap is worth a finding, and the grant that closes it.
_SOURCE_FIX: dict[str, str] = {
    "hba_rules": "GRANT SELECT ON pg_catalog.pg_hba_file_rules TO {r};\n"
    "GRANT EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() TO {r};",
    "settings": "GRANT pg_monitor TO {r};",
    "activity": "GRANT pg_monitor TO {r};",
}


def _role(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return role_spec(name)
    except ValueError:
        return None


def rows(snapshot: Snapshot) -> list[dict[str, Any]]:
    """One row per source and per database of the cluster (see COLUMNS)."""
    meta = snapshot.meta if isinstance(snapshot.meta, Mapping) else {}
    auditor = meta.get("connected_user")
    auditor = str(auditor) if auditor is not None else None
    r = _role(auditor)
    out: list[dict[str, Any]] = []
    sources = meta.get("sources")
    for name, info in sorted((sources if isinstance(sources, Mapping) else {}).items()):
        if name == "objects":  # the per-database rows below say it database by database
            continue
        collected = bool(info.get("collected")) if isinstance(info, Mapping) else bool(info)
        reason = info.get("reason") if isinstance(info, Mapping) else None
        fix = _SOURCE_FIX.get(str(name)) if not collected and r else None
        out.append(
            {
                "source": str(name),
                "database": None,
                "status": "collected" if collected else GAP,
                "cause": None if collected else _source_cause(str(reason or "")),
                "reason": None if reason is None else str(reason),
                "fix_sql": fix.format(r=r) if fix else None,
                "auditor": auditor,
            }
        )

    by_name = {d.name: d for d in snapshot.databases}
    requested = meta.get("databases_requested")
    for db in snapshot.table("databases").dicts():
        name = str(db.get("name"))
        snap = by_name.get(name)
        row: dict[str, Any] = {
            "source": "database",
            "database": name,
            "status": "collected",
            "cause": None,
            "reason": None,
            "fix_sql": None,
            "auditor": auditor,
        }
        if snap is not None and snap.status == "collected":
            out.append(row)
            continue
        reason = snap.reason if snap is not None else None
        if db.get("connection_limit") == -2:
            row.update(status="not_connectable", cause="invalid_database")
        elif db.get("allow_connections") is False:
            row.update(status="not_connectable", cause="connections_not_allowed")
        elif snap is None:
            row.update(
                status="not_requested" if requested is not None else GAP,
                cause="not_requested" if requested is not None else "failed",
                reason=reason
                or (
                    "not in the --database selection"
                    if requested is not None
                    else "not in the snapshot"
                ),
            )
        elif db.get("auditor_can_connect") is False:
            row.update(status=GAP, cause="no_connect_privilege")
            if r:
                row["fix_sql"] = f"GRANT CONNECT ON DATABASE {quote_ident(name)} TO {r};"
        elif (reason or "").startswith("reading the catalogs failed"):
            row.update(status=GAP, cause="read_failed")
        else:
            row.update(status=GAP, cause="connect_failed")
        if row["reason"] is None:
            row["reason"] = reason or row["cause"]
        out.append(row)
    return out


def _source_cause(reason: str) -> str:
    low = reason.lower()
    privilege = (
        "need" in low or "not readable" in low or "lacks" in low or "not a security definer" in low
    )
    return "no_privilege" if privilege else "failed"


def gaps(snapshot: Snapshot) -> list[dict[str, Any]]:
    """Only the rows that are gaps (status not_collected)."""
    return [r for r in rows(snapshot) if r["status"] == GAP]


def database_gaps(snapshot: Snapshot) -> list[dict[str, Any]]:
    return [r for r in gaps(snapshot) if r["source"] == "database"]


PRIVILEGE_SOURCES = (
    "database",
    "roles",
    "memberships",
    "databases",
    "tablespaces",
    "shared_acl",
    "db_role_settings",
)
"""The sources a privilege or ownership answer (explain, who-can) is built from."""


def partial_note(
    snapshot: Snapshot, *, database: str | None = None, sources: tuple[str, ...] | None = None
) -> str | None:
    """One sentence for answers built from the snapshot (explain, who-can, query) when the
    answer covers only part of the cluster; None when nothing it could need is missing.
    With ``database``, only that database's gap (and the cluster-wide ones) count; with
    ``sources``, only those sources ('database' for the per-database catalogs)."""
    missing = gaps(snapshot)
    if database is not None:
        missing = [g for g in missing if g["database"] in (None, database)]
    if sources is not None:
        missing = [g for g in missing if g["source"] in sources]
    if not missing:
        return None
    dbs = [g for g in missing if g["source"] == "database"]
    other = [g for g in missing if g["source"] != "database"]
    parts: list[str] = []
    if dbs:
        shown = ", ".join(
            f"{printable(g['database'])} ({printable(g['reason'] or g['cause'])})" for g in dbs[:5]
        )
        more = f" and {len(dbs) - 5} more" if len(dbs) > 5 else ""
        parts.append(f"database{'s' if len(dbs) != 1 else ''} not collected: {shown}{more}")
    if other:
        parts.append("not collected: " + ", ".join(printable(g["source"]) for g in other))
    return "partial answer: " + "; ".join(parts)


PER_DATABASE_TABLES = frozenset(
    {
        "schemas",
        "objects",
        "acl_objects",
        "privileges",
        "column_privileges",
        "default_privileges",
        "default_privileges_effective",
        "functions",
        "extensions",
        "effective_privileges",
    }
)
_TABLE_SOURCES = {
    "hba_rules": "hba_rules",
    "settings": "settings",
    "role_settings": "settings",
    "activity": "activity",
}


def sources_read_by(sql: str) -> tuple[str, ...]:
    """The coverage sources a query over the audit schema depends on (for ``query``'s
    partial-answer note): 'database' for the per-database tables, hba_rules, settings,
    activity, and password_types when it reads roles.password_type."""
    import sqlglot
    from sqlglot import exp

    out: set[str] = set()
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.SqlglotError:
        return ("database",)
    for table in tree.find_all(exp.Table):
        name = table.name
        if name in PER_DATABASE_TABLES:
            out.add("database")
        elif name in _TABLE_SOURCES:
            out.add(_TABLE_SOURCES[name])
        elif name == "roles" and "password_type" in sql.lower():
            out.add("password_types")
    return tuple(sorted(out))


def unknown_note(snapshot: Snapshot, database: str | None) -> str | None:
    """Why "no object named X" may be wrong: the databases that were not collected (only
    ``database`` when the question names one). None when every database was read."""
    dbs = [g for g in database_gaps(snapshot) if database is None or g["database"] == database]
    if not dbs:
        return None
    shown = ", ".join(
        f"{printable(g['database'])} ({printable(g['reason'] or g['cause'])})" for g in dbs[:5]
    )
    more = f" and {len(dbs) - 5} more" if len(dbs) > 5 else ""
    return (
        f"the answer is unknown: database{'s' if len(dbs) != 1 else ''} {shown}{more} "
        f"{'were' if len(dbs) != 1 else 'was'} not collected"
    )
