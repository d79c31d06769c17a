"""What a migration's DROP POLICY does to who sees which rows (PGR-LINT-016).

Why a model of its own: a DROP POLICY is not wrong by its shape; what it does depends on
the policy it drops and on what is left on the table. PostgreSQL combines a table's
policies per command as (any permissive policy) AND (every restrictive policy), so:

- dropping a RESTRICTIVE policy widens access: the rows it held back become visible (and
  writable) to its roles through the permissive policies;
- dropping the last permissive policy of a command on a table with row-level security
  enabled hides every row from everyone but the owner (unless FORCE), superusers and
  BYPASSRLS roles: the application suddenly sees nothing;
- dropping a permissive policy while another permissive one still covers the command only
  narrows access, and with row-level security disabled no policy applies: not reported.

``PolicyBook`` knows the policies of the tables the migrations created or changed, in
migration order, and (``lint --snapshot``) production's policies and row-level security
flags from the snapshot. A table known completely (created in the migrations, or in the
snapshot) answers "is this the last permissive policy"; a policy the book does not know
is reported as such: its effect is unknown, and the message says so. DROP POLICY followed
by CREATE POLICY of the same name on the same table in the same file is a replacement,
reported only when a RESTRICTIVE policy comes back PERMISSIVE.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Table = tuple[str | None, str]  # (schema or None when unqualified, table)
COMMANDS = ("SELECT", "INSERT", "UPDATE", "DELETE")


@dataclass
class KnownPolicy:
    """A row-level security policy as the migrations or the snapshot define it."""

    permissive: bool
    command: str  # ALL | SELECT | INSERT | UPDATE | DELETE
    roles: tuple[str, ...]  # role names, PUBLIC
    where: str  # "created at file:line" or "in the snapshot"

    def covers(self) -> set[str]:
        return set(COMMANDS) if self.command == "ALL" else {self.command}


@dataclass
class KnownTable:
    """What is known of one table's row-level security."""

    policies: dict[str, KnownPolicy] = field(default_factory=dict)
    row_security: bool | None = None  # None: not known
    complete: bool = False  # every policy of the table is known (created here or snapshot)


@dataclass
class PolicyBook:
    """The tables' policies as the statements read so far leave them."""

    tables: dict[Table, KnownTable] = field(default_factory=dict)
    seeded: bool = False  # production's policies were loaded from a snapshot
    creations: dict[tuple[str, str, str], list[tuple[tuple[int, int], bool]]] = field(
        default_factory=dict
    )
    """(file, table, policy) -> [((statement index, line), permissive)] of every CREATE
    POLICY (the line orders the statements of one DO block)."""

    def find(self, schema: str | None, name: str) -> Table | None:
        """The book's key for a table as a statement names it (unqualified names match the
        one table of that name the book knows; ``public`` and unqualified are one)."""
        if (schema, name) in self.tables:
            return (schema, name)
        same = [k for k in self.tables if k[1] == name]
        if schema is None:
            return same[0] if len(same) == 1 else None
        for alt in (None,) if schema != "public" else (None, "public"):
            if (alt, name) in self.tables:
                return (alt, name)
        return None

    def table(self, schema: str | None, name: str) -> KnownTable:
        key = self.find(schema, name) or (schema, name)
        return self.tables.setdefault(key, KnownTable())


def _ast() -> Any:
    from pglast import ast

    return ast


def _role(spec: Any) -> str:
    from pglast import enums

    if spec.roletype == enums.RoleSpecType.ROLESPEC_PUBLIC:
        return "PUBLIC"
    if spec.roletype == enums.RoleSpecType.ROLESPEC_CSTRING:
        return str(spec.rolename)
    return str(spec.roletype.name).removeprefix("ROLESPEC_")


def created_policy(node: Any) -> tuple[str, str, bool] | None:
    """(table, policy, permissive) of a CREATE POLICY, else None."""
    ast = _ast()
    if isinstance(node, ast.CreatePolicyStmt):
        return node.table.relname, node.policy_name, bool(node.permissive)
    return None


def track(node: Any, book: PolicyBook, where: str) -> None:
    """Move the book on past ``node`` (CREATE TABLE / POLICY, DROP and RENAME of them,
    ENABLE / DISABLE ROW LEVEL SECURITY)."""
    from pglast import enums

    ast = _ast()
    if isinstance(node, ast.CreateStmt):
        rel = node.relation
        if book.find(rel.schemaname, rel.relname) is None or not node.if_not_exists:
            book.tables[(rel.schemaname, rel.relname)] = KnownTable(
                row_security=False, complete=True
            )
    elif isinstance(node, ast.CreatePolicyStmt):
        rel = node.table
        book.table(rel.schemaname, rel.relname).policies[node.policy_name] = KnownPolicy(
            permissive=bool(node.permissive),
            command=str(node.cmd_name or "all").upper(),
            roles=tuple(_role(r) for r in node.roles or ()) or ("PUBLIC",),
            where=f"created at {where}",
        )
    elif isinstance(node, ast.AlterTableStmt) and node.relation is not None:
        on = {
            enums.AlterTableType.AT_EnableRowSecurity: True,
            enums.AlterTableType.AT_DisableRowSecurity: False,
        }
        for cmd in node.cmds or ():
            if isinstance(cmd, ast.AlterTableCmd) and cmd.subtype in on:
                rel = node.relation
                book.table(rel.schemaname, rel.relname).row_security = on[cmd.subtype]
    elif isinstance(node, ast.DropStmt) and node.removeType == enums.ObjectType.OBJECT_POLICY:
        for schema, table, policy in _dropped(node):
            key = book.find(schema, table)
            if key is not None:
                book.tables[key].policies.pop(policy, None)
    elif isinstance(node, ast.DropStmt) and node.removeType == enums.ObjectType.OBJECT_TABLE:
        for obj in node.objects or ():
            parts = [s.sval for s in obj]
            key = book.find(parts[-2] if len(parts) > 1 else None, parts[-1])
            if key is not None:
                del book.tables[key]
    elif isinstance(node, ast.RenameStmt) and node.renameType == enums.ObjectType.OBJECT_POLICY:
        key = book.find(node.relation.schemaname, node.relation.relname)
        if key is not None and node.subname in book.tables[key].policies:
            book.tables[key].policies[node.newname] = book.tables[key].policies.pop(node.subname)


def _dropped(node: Any) -> list[tuple[str | None, str, str]]:
    out = []
    for obj in node.objects or ():
        parts = [s.sval for s in obj]
        out.append((parts[-3] if len(parts) > 2 else None, parts[-2], parts[-1]))
    return out


def drop_policy_hits(
    node: Any, book: PolicyBook, file: str, at: tuple[int, int]
) -> list[dict[str, Any]]:
    """One hit per dropped policy whose effect widens access, hides rows, or is unknown."""
    from pglast import enums

    ast = _ast()
    if not (isinstance(node, ast.DropStmt) and node.removeType == enums.ObjectType.OBJECT_POLICY):
        return []
    hits = []
    for schema, table, policy in _dropped(node):
        shown = ".".join(x for x in (schema, table) if x)
        key = book.find(schema, table)
        known = book.tables.get(key) if key is not None else None
        old = known.policies.get(policy) if known is not None else None
        later = [
            permissive
            for pos, permissive in book.creations.get((file, table, policy), [])
            if pos > at
        ]
        base = {"object_name": policy, "table": shown, "snapshot": book.seeded}
        if later:  # dropped and re-created in the same file: a replacement
            if old is not None and not old.permissive and later[0]:
                hits.append({**base, **_policy(old), "effect": "restrictive_replaced"})
            continue
        if old is None:
            if known is None or not known.complete:
                hits.append({**base, "effect": "unknown"})
            continue  # a known table without it: IF EXISTS does nothing, else the twin fails
        if known is not None and known.row_security is False:
            continue  # no policy applies while row-level security is off
        if not old.permissive:
            hits.append({**base, **_policy(old), "effect": "restrictive"})
            continue
        assert known is not None
        rest = set().union(
            *(p.covers() for n, p in known.policies.items() if n != policy and p.permissive)
        )
        lost = [c for c in COMMANDS if c in old.covers() and c not in rest]
        if lost:  # no known permissive policy covers these commands any more
            effect = "last_permissive" if known.complete else "permissive_rest_unknown"
            hits.append({**base, **_policy(old), "effect": effect, "commands": lost})
    return hits


def _policy(p: KnownPolicy) -> dict[str, Any]:
    return {"command": p.command, "roles": list(p.roles), "where": p.where}


def seed_from_snapshot(book: PolicyBook, snapshot: Any, database: str) -> None:
    """Production's policies and row-level security flags in ``database`` (the one the
    migrations run in; ``lint --snapshot``): every table there is known completely."""
    roles = {r.get("oid"): r.get("name") for r in snapshot.table("roles").dicts()}
    roles[0] = "PUBLIC"
    for db in snapshot.databases:
        if db.name != database:
            continue
        schemas = {s.get("oid"): s.get("name") for s in db.table("schemas").dicts()}
        tables: dict[Any, Table] = {}
        for o in db.table("objects").dicts():
            if o.get("object_class") == "relation" and o.get("schema_oid") in schemas:
                tables[o.get("oid")] = (schemas[o.get("schema_oid")], str(o.get("name")))
        for key in tables.values():
            book.tables.setdefault(key, KnownTable(row_security=False, complete=True))
        for t in db.table("rls_tables").dicts():
            if t.get("table_oid") in tables:
                book.tables[tables[t["table_oid"]]].row_security = bool(t.get("row_security"))
        for p in db.table("policies").dicts():
            if p.get("table_oid") not in tables:
                continue
            book.tables[tables[p["table_oid"]]].policies[str(p.get("name"))] = KnownPolicy(
                permissive=bool(p.get("permissive")),
                command=str(p.get("command") or "ALL"),
                roles=tuple(str(roles.get(o, o)) for o in p.get("role_oids") or ()) or ("PUBLIC",),
                where=f"in the snapshot (database {db.name})",
            )
    book.seeded = True
