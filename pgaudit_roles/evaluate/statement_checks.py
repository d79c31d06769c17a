"""The statement predicates that ``rules/PGR-LINT-*.toml`` rules name in ``check``.

Why code and not a query: a rule's metadata, severity, message and documentation are data
like every other rule's; only "does this parsed statement do X" is a small Python function
over pglast's node (PostgreSQL's own parse tree, so ``WITH SUPERUSER``, ``SUPERUSER`` and
``CREATE USER ... SUPERUSER`` are one shape). Each predicate returns one dict per problem
with the values the rule's message template uses; it never returns a password literal.

``State`` carries what earlier statements established (``SET ROLE``, SECURITY DEFINER
functions created so far) in migration order; ``track`` updates it after the checks ran.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..audit.naming import NamingPolicy
from . import policy_drops

RUNTIME_KINDS: tuple[str, ...] = ("app", "writer", "reader")
"""The guide's runtime roles (the application login and the groups it uses), as PGR-OWN-001."""

DANGEROUS_PREDEFINED: tuple[str, ...] = (
    "pg_read_server_files",
    "pg_write_server_files",
    "pg_execute_server_program",
    "pg_read_all_data",
    "pg_write_all_data",
)
"""The predefined roles PGR-ROLE-013 reports (each as good as superuser, or all data)."""

OPERATIONAL_PREDEFINED: tuple[str, ...] = (
    "pg_signal_backend",
    "pg_create_subscription",
    "pg_checkpoint",
    "pg_use_reserved_connections",
    "pg_signal_autovacuum_worker",
)
"""The session-control and server-operation predefined roles PGR-ROLE-017 reports when an
application role holds them."""
APPLICATION_KINDS: tuple[str, ...] = ("owner", "writer", "reader", "deploy", "app")
MONITORING_MAY_HOLD: frozenset[str] = frozenset(
    {"pg_signal_backend", "pg_use_reserved_connections"}
)

RUNTIME_ATTRIBUTES: tuple[str, ...] = ("createrole", "createdb", "bypassrls", "isreplication")
AUDIT_SETTING_PREFIXES: tuple[str, ...] = ("log_", "pgaudit.")
PUBLIC_DEFAULTS: dict[str, frozenset[str]] = {
    "database": frozenset({"CONNECT", "TEMP", "TEMPORARY"}),
    "language": frozenset({"USAGE"}),
    "type": frozenset({"USAGE"}),
    "domain": frozenset({"USAGE"}),
}
"""What PUBLIC holds by default besides EXECUTE on functions (PostgreSQL's privilege docs,
"Default privileges"): a GRANT of only these to PUBLIC gives nothing new."""

Hit = dict[str, Any]


@dataclass
class State:
    """What the migrations established so far, in order."""

    naming: NamingPolicy = field(default_factory=NamingPolicy.default)
    current_role: str | None = None  # SET ROLE / SET SESSION AUTHORIZATION in this session
    secdef: set[str] = field(default_factory=set)  # SECURITY DEFINER functions, by name
    placeholders: frozenset[str] = frozenset()  # this statement's psql-variable stand-ins
    local: bool = False  # current_role came from SET LOCAL ROLE
    outer_role: str | None = None  # the role before SET LOCAL ROLE
    policies: policy_drops.PolicyBook = field(default_factory=policy_drops.PolicyBook)
    position: tuple[str, int, int] = ("", 0, 0)  # file, line, statement index being checked

    def kind(self, role: str) -> str:
        return self.naming.classify_full(role).kind


def _ast() -> Any:
    from pglast import ast

    return ast


def _enums() -> Any:
    from pglast import enums

    return enums


def role_name(spec: Any) -> str:
    """A RoleSpec as text (``PUBLIC``, ``CURRENT_USER``, or the name)."""
    e = _enums()
    if spec is None:
        return ""
    rt = spec.roletype
    if rt == e.RoleSpecType.ROLESPEC_PUBLIC:
        return "PUBLIC"
    if rt == e.RoleSpecType.ROLESPEC_CSTRING:
        return str(spec.rolename)
    return str(rt.name).removeprefix("ROLESPEC_")


def is_public(spec: Any) -> bool:
    """PUBLIC, written ``PUBLIC``, ``public`` or ``"public"`` (PostgreSQL's rule); a role
    named ``"PUBLIC"`` (quoted, upper case) is an ordinary role."""
    return spec is not None and spec.roletype == _enums().RoleSpecType.ROLESPEC_PUBLIC


def _role_options(node: Any) -> tuple[str | None, tuple[Any, ...]]:
    """(role, options) of CREATE ROLE / CREATE USER / ALTER ROLE (None otherwise)."""
    ast = _ast()
    if isinstance(node, ast.CreateRoleStmt):
        return node.role, tuple(node.options or ())
    if isinstance(node, ast.AlterRoleStmt):
        return role_name(node.role), tuple(node.options or ())
    return None, ()


def _true(arg: Any) -> bool:
    ast = _ast()
    if arg is None:
        return True
    if isinstance(arg, ast.Boolean):
        return bool(arg.boolval)
    if isinstance(arg, ast.Integer):
        return bool(arg.ival)
    return True


def _names(objects: Any) -> list[str]:
    """Display names of a GRANT's objects."""
    ast = _ast()
    out = []
    for o in objects or ():
        if isinstance(o, ast.String):
            out.append(o.sval)
        elif isinstance(o, ast.RangeVar):
            out.append(".".join(x for x in (o.schemaname, o.relname) if x))
        elif isinstance(o, ast.ObjectWithArgs):
            out.append(".".join(s.sval for s in o.objname or ()))
        else:
            out.append(type(o).__name__)
    return out


def _object_kind(objtype: Any) -> str:
    return str(objtype.name).removeprefix("OBJECT_").lower().replace("_", " ")


def _target(node: Any, outer: Any = None) -> str:
    e = _enums()
    if node.targtype == e.GrantTargetType.ACL_TARGET_DEFAULTS:
        opts = getattr(outer, "options", None) or ()
        roles = [role_name(r) for o in opts if o.defname == "roles" for r in o.arg]
        schemas = [s.sval for o in opts if o.defname == "schemas" for s in o.arg]
        return (
            f"{_object_kind(node.objtype)}s created later"
            + (f" by {', '.join(roles)}" if roles else "")
            + (f" in schema {', '.join(schemas)}" if schemas else "")
            + " (default privileges)"
        )
    if node.targtype == e.GrantTargetType.ACL_TARGET_ALL_IN_SCHEMA:
        return f"all {_object_kind(node.objtype)}s in schema {', '.join(_names(node.objects))}"
    return f"{_object_kind(node.objtype)} {', '.join(_names(node.objects))}"


def _privileges(node: Any) -> list[str]:
    return [p.priv_name.upper() for p in node.privileges or () if p.priv_name] or ["ALL"]


# --- the predicates ---------------------------------------------------------------------


def _password_options(node: Any) -> tuple[str | None, str | None, tuple[Any, ...]]:
    """(role, server, options) of a statement that can carry a password: CREATE/ALTER ROLE
    (server None) and CREATE/ALTER USER MAPPING (the remote password, a secret too)."""
    ast = _ast()
    if isinstance(node, ast.CreateUserMappingStmt | ast.AlterUserMappingStmt):
        return role_name(node.user), node.servername, tuple(node.options or ())
    role, options = _role_options(node)
    return role, None, options


def password_literal(node: Any, state: State) -> list[Hit]:
    role, server, options = _password_options(node)
    ast = _ast()
    for opt in options:
        if opt.defname == "password" and isinstance(opt.arg, ast.String):
            if any(p in opt.arg.sval for p in state.placeholders):
                continue  # PASSWORD :'pw' (psql -v) or '${pw}' (Flyway): not in the file
            return [{"role": role, "server": server}]
    return []


def superuser_role(node: Any, state: State) -> list[Hit]:
    role, options = _role_options(node)
    for opt in options:
        if opt.defname == "superuser" and _true(opt.arg):
            return [{"role": role, "kind": state.kind(role or "")}]
    return []


def runtime_role_attributes(node: Any, state: State) -> list[Hit]:
    role, options = _role_options(node)
    if role is None or state.kind(role) not in RUNTIME_KINDS:
        return []
    given = [opt.defname for opt in options if opt.defname in RUNTIME_ATTRIBUTES and _true(opt.arg)]
    if not given:
        return []
    names = ", ".join("REPLICATION" if g == "isreplication" else g.upper() for g in given)
    return [{"role": role, "kind": state.kind(role), "attributes": names}]


def _grant(node: Any) -> Any:
    """The GrantStmt of a GRANT, or of ALTER DEFAULT PRIVILEGES ... GRANT (future objects)."""
    ast = _ast()
    if isinstance(node, ast.AlterDefaultPrivilegesStmt):
        return node.action
    return node if isinstance(node, ast.GrantStmt) else None


def grant_to_public(node: Any, state: State) -> list[Hit]:
    e = _enums()
    outer, node = node, _grant(node)
    if node is None or not node.is_grant:
        return []
    if not any(is_public(g) for g in node.grantees or ()):
        return []
    if node.objtype in (
        e.ObjectType.OBJECT_FUNCTION,
        e.ObjectType.OBJECT_PROCEDURE,
        e.ObjectType.OBJECT_ROUTINE,
    ):
        return []  # EXECUTE to PUBLIC is PostgreSQL's default; SECURITY DEFINER: its own rule
    default = PUBLIC_DEFAULTS.get(str(node.objtype.name).removeprefix("OBJECT_").lower())
    if default is not None and node.privileges and set(_privileges(node)) <= default:
        return []  # re-grants what PUBLIC holds by default (e.g. after a REVOKE)
    return [
        {
            "role": "PUBLIC",
            "privileges": ", ".join(_privileges(node)),
            "target": _target(node, outer),
        }
    ]


def grant_all(node: Any, state: State) -> list[Hit]:
    outer, node = node, _grant(node)
    if node is None or not node.is_grant or node.privileges:
        return []
    grantees = [role_name(g) for g in node.grantees or ()]
    return [{"role": ", ".join(grantees), "target": _target(node, outer)}]


def create_on_public_schema(node: Any, state: State) -> list[Hit]:
    ast, e = _ast(), _enums()
    if (
        not isinstance(node, ast.GrantStmt)
        or not node.is_grant
        or node.objtype != e.ObjectType.OBJECT_SCHEMA
        or node.targtype != e.GrantTargetType.ACL_TARGET_OBJECT
    ):
        return []
    if "public" not in _names(node.objects):
        return []
    privs = _privileges(node)
    if "CREATE" not in privs and "ALL" not in privs:
        return []
    return [{"role": ", ".join(role_name(g) for g in node.grantees or ())}]


def _function_options(node: Any) -> tuple[str | None, tuple[Any, ...]]:
    ast = _ast()
    if isinstance(node, ast.CreateFunctionStmt):
        return ".".join(s.sval for s in node.funcname or ()), tuple(node.options or ())
    if isinstance(node, ast.AlterFunctionStmt):
        return ".".join(s.sval for s in node.func.objname or ()), tuple(node.actions or ())
    return None, ()


def _is_secdef(options: tuple[Any, ...]) -> bool:
    return any(o.defname == "security" and _true(o.arg) for o in options)


def secdef_without_search_path(node: Any, state: State) -> list[Hit]:
    ast = _ast()
    name, options = _function_options(node)
    if name is None or not _is_secdef(options):
        return []
    for o in options:
        if (
            o.defname == "set"
            and isinstance(o.arg, ast.VariableSetStmt)
            and o.arg.name == "search_path"
            and o.arg.kind != _enums().VariableSetKind.VAR_SET_DEFAULT  # TO DEFAULT: not fixed
        ):
            return []
    return [{"object_name": name}]


def secdef_execute_to_public(node: Any, state: State) -> list[Hit]:
    ast, e = _ast(), _enums()
    if not isinstance(node, ast.GrantStmt) or not node.is_grant:
        return []
    if node.objtype not in (
        e.ObjectType.OBJECT_FUNCTION,
        e.ObjectType.OBJECT_PROCEDURE,
        e.ObjectType.OBJECT_ROUTINE,
    ):
        return []
    if not any(is_public(g) for g in node.grantees or ()):
        return []
    if node.targtype == e.GrantTargetType.ACL_TARGET_ALL_IN_SCHEMA:
        schemas = set(_names(node.objects))
        hit = sorted(f for f in state.secdef if "." in f and f.split(".")[0] in schemas)
    else:
        hit = [
            n for n in _names(node.objects) if n in state.secdef or n.split(".")[-1] in state.secdef
        ]
    return [{"object_name": n} for n in hit]


def default_privileges_without_for_role(node: Any, state: State) -> list[Hit]:
    ast = _ast()
    if not isinstance(node, ast.AlterDefaultPrivilegesStmt):
        return []
    if any(o.defname == "roles" for o in node.options or ()):
        return []
    schemas = [s.sval for o in node.options or () if o.defname == "schemas" for s in o.arg]
    return [{"schema": ", ".join(schemas) or None, "current_role": state.current_role}]


_CREATES = (
    "CreateStmt",
    "CreateTableAsStmt",
    "ViewStmt",
    "CreateSeqStmt",
    "CreateSchemaStmt",
    "CreateFunctionStmt",
    "CompositeTypeStmt",
    "CreateEnumStmt",
    "CreateDomainStmt",
    "CreateRangeStmt",
    "CreateForeignTableStmt",
    "CreatedbStmt",
    "DefineStmt",
    "CreateExtensionStmt",
)


def objects_created_as_runtime_role(node: Any, state: State) -> list[Hit]:
    if state.current_role is None or type(node).__name__ not in _CREATES:
        return []
    kind = state.kind(state.current_role)
    if kind not in RUNTIME_KINDS:
        return []
    what = _CREATE_SQL.get(type(node).__name__, "CREATE")
    return [{"role": state.current_role, "kind": kind, "statement": what}]


_CREATE_SQL = {
    "CreateStmt": "CREATE TABLE",
    "CreateTableAsStmt": "CREATE TABLE AS",
    "ViewStmt": "CREATE VIEW",
    "CreateSeqStmt": "CREATE SEQUENCE",
    "CreateSchemaStmt": "CREATE SCHEMA",
    "CreateFunctionStmt": "CREATE FUNCTION",
    "CreatedbStmt": "CREATE DATABASE",
    "CreateForeignTableStmt": "CREATE FOREIGN TABLE",
    "CreateExtensionStmt": "CREATE EXTENSION",
}


def audit_setting_override(node: Any, state: State) -> list[Hit]:
    ast = _ast()
    if isinstance(node, ast.AlterRoleSetStmt):
        target = f"role {role_name(node.role) or 'ALL'}" + (
            f" in database {node.database}" if node.database else ""
        )
        setstmt = node.setstmt
    elif isinstance(node, ast.AlterDatabaseSetStmt):
        target = f"database {node.dbname}"
        setstmt = node.setstmt
    else:
        return []
    name = (setstmt.name or "") if setstmt is not None else ""
    if not name.lower().startswith(AUDIT_SETTING_PREFIXES):
        return []
    if setstmt.kind not in (
        _enums().VariableSetKind.VAR_SET_VALUE,
        _enums().VariableSetKind.VAR_SET_CURRENT,
    ):
        return []  # RESET / SET ... TO DEFAULT removes the override: the cluster's policy again
    return [
        {
            "target": target,
            "setting": name,
            "role": role_name(node.role) if isinstance(node, ast.AlterRoleSetStmt) else None,
        }
    ]


def _predefined_grants(node: Any, wanted: tuple[str, ...]) -> list[tuple[str, str]]:
    """(predefined role, member) for each of ``wanted`` a statement grants: GRANT pg_x TO
    r, and its older spellings CREATE ROLE r IN ROLE pg_x and ALTER GROUP pg_x ADD USER r."""
    ast = _ast()
    if isinstance(node, ast.CreateRoleStmt):
        granted = [
            role_name(r)
            for o in node.options or ()
            if o.defname == "addroleto" and isinstance(o.arg, tuple | list)
            for r in o.arg
        ]
        return [(g, node.role) for g in granted if g in wanted]
    if isinstance(node, ast.AlterRoleStmt):
        group = role_name(node.role)
        if node.action != 1 or group not in wanted:
            return []
        members = [
            role_name(r) for o in node.options or () if o.defname == "rolemembers" for r in o.arg
        ]
        return [(group, m) for m in members]
    if not isinstance(node, ast.GrantRoleStmt) or not node.is_grant:
        return []
    opts = {o.defname: _true(o.arg) for o in node.opt or ()}
    if opts.get("inherit") is False and opts.get("set") is False and not opts.get("admin"):
        return []  # PostgreSQL 16+: membership that neither inherits nor can SET ROLE
    granted = [p.priv_name for p in node.granted_roles or () if p.priv_name in wanted]
    members = [role_name(g) for g in node.grantee_roles or ()]
    return [(g, m) for g in granted for m in members]


def dangerous_predefined_granted(node: Any, state: State) -> list[Hit]:
    """A server-file, server-program or all-data predefined role granted (PGR-ROLE-013)."""
    return [{"granted": g, "role": m} for g, m in _predefined_grants(node, DANGEROUS_PREDEFINED)]


def operational_predefined_to_app(node: Any, state: State) -> list[Hit]:
    """A session-control or server-operation predefined role granted to an application
    role, or to a monitoring role where PGR-ROLE-017 reports that too."""
    out = []
    for g, m in _predefined_grants(node, OPERATIONAL_PREDEFINED):
        kind = state.kind(m)
        if kind in APPLICATION_KINDS or (kind == "monitor" and g not in MONITORING_MAY_HOLD):
            out.append({"granted": g, "role": m, "role_kind": kind})
    return out


def _is_true_const(expr: Any) -> bool:
    ast = _ast()
    if isinstance(expr, ast.A_Const) and isinstance(expr.val, ast.Boolean):
        return bool(expr.val.boolval)
    if isinstance(expr, ast.TypeCast):
        names = [n.sval for n in expr.typeName.names or ()] if expr.typeName else []
        arg = expr.arg
        if (
            names
            and names[-1] in ("bool", "boolean")
            and isinstance(arg, ast.A_Const)
            and isinstance(arg.val, ast.String)
        ):  # 't'::boolean, CAST('yes' AS bool): PostgreSQL's boolean input forms of true
            return arg.val.sval.strip().lower() in (
                "t",
                "tr",
                "tru",
                "true",
                "y",
                "ye",
                "yes",
                "on",
                "1",
            )
        return _is_true_const(arg)
    return False


def policy_using_true(node: Any, state: State) -> list[Hit]:
    ast = _ast()
    if not isinstance(node, ast.CreatePolicyStmt | ast.AlterPolicyStmt):
        return []
    clauses = [
        c
        for c, expr in (("USING", node.qual), ("WITH CHECK", node.with_check))
        if expr is not None and _is_true_const(expr)
    ]
    if not clauses:
        return []
    table = ".".join(x for x in (node.table.schemaname, node.table.relname) if x)
    return [{"object_name": node.policy_name, "table": table, "clause": " and ".join(clauses)}]


def disable_row_level_security(node: Any, state: State) -> list[Hit]:
    ast, e = _ast(), _enums()
    if not isinstance(node, ast.AlterTableStmt):
        return []
    off = {
        e.AlterTableType.AT_DisableRowSecurity: "DISABLE ROW LEVEL SECURITY",
        e.AlterTableType.AT_NoForceRowSecurity: "NO FORCE ROW LEVEL SECURITY",
    }
    out = []
    for cmd in node.cmds or ():
        if isinstance(cmd, ast.AlterTableCmd) and cmd.subtype in off:
            table = ".".join(x for x in (node.relation.schemaname, node.relation.relname) if x)
            out.append({"object_name": table, "action": off[cmd.subtype]})
    return out


def drop_policy(node: Any, state: State) -> list[Hit]:
    """DROP POLICY that widens access, hides every row, or whose policy is unknown
    (policy_drops.py)."""
    file, line, index = state.position
    return policy_drops.drop_policy_hits(node, state.policies, file, (index, line))


def twin_apply(node: Any, state: State) -> list[Hit]:
    """Never fires in the statement layer: the effect layer reports failed statements."""
    return []


CHECKS: dict[str, Callable[[Any, State], list[Hit]]] = {
    "password_literal": password_literal,
    "superuser_role": superuser_role,
    "runtime_role_attributes": runtime_role_attributes,
    "grant_to_public": grant_to_public,
    "grant_all": grant_all,
    "create_on_public_schema": create_on_public_schema,
    "secdef_without_search_path": secdef_without_search_path,
    "secdef_execute_to_public": secdef_execute_to_public,
    "default_privileges_without_for_role": default_privileges_without_for_role,
    "objects_created_as_runtime_role": objects_created_as_runtime_role,
    "audit_setting_override": audit_setting_override,
    "dangerous_predefined_granted": dangerous_predefined_granted,
    "operational_predefined_to_app": operational_predefined_to_app,
    "policy_using_true": policy_using_true,
    "disable_row_level_security": disable_row_level_security,
    "drop_policy": drop_policy,
    "twin_apply": twin_apply,
}


def track(node: Any, state: State) -> None:
    """Update ``state`` with what ``node`` establishes for later statements."""
    ast, e = _ast(), _enums()
    policy_drops.track(node, state.policies, f"{state.position[0]}:{state.position[1]}")
    if isinstance(node, ast.VariableSetStmt) and node.name in ("role", "session_authorization"):
        if node.is_local and not state.local:  # SET LOCAL: until the transaction ends
            state.local, state.outer_role = True, state.current_role
        if node.kind == e.VariableSetKind.VAR_SET_VALUE and node.args:
            arg = node.args[0]
            value = getattr(getattr(arg, "val", None), "sval", None)
            state.current_role = None if value in (None, "none") else str(value)
        else:  # RESET ROLE, SET ROLE DEFAULT / NONE
            state.current_role = None
        return
    if (isinstance(node, ast.VariableSetStmt) and node.kind == e.VariableSetKind.VAR_RESET_ALL) or (
        isinstance(node, ast.DiscardStmt) and node.target == e.DiscardMode.DISCARD_ALL
    ):
        state.current_role, state.local, state.outer_role = None, False, None  # RESET ALL
        return
    if isinstance(node, ast.TransactionStmt) and node.kind in (
        e.TransactionStmtKind.TRANS_STMT_COMMIT,
        e.TransactionStmtKind.TRANS_STMT_ROLLBACK,
        e.TransactionStmtKind.TRANS_STMT_PREPARE,
    ):
        end_transaction(state)
        return
    if isinstance(node, ast.CreateFunctionStmt | ast.AlterFunctionStmt):
        name, options = _function_options(node)
        if name and _is_secdef(options):
            state.secdef.add(name)
            state.secdef.add(name.split(".")[-1])
        elif name and (
            isinstance(node, ast.CreateFunctionStmt)  # CREATE OR REPLACE: SECURITY INVOKER
            or any(o.defname == "security" for o in options)  # ALTER ... SECURITY INVOKER
        ):
            state.secdef.discard(name)
            if not any(f.split(".")[-1] == name.split(".")[-1] for f in state.secdef if "." in f):
                state.secdef.discard(name.split(".")[-1])


def end_transaction(state: State) -> None:
    """COMMIT/ROLLBACK, or the end of a migration file its tool runs in a transaction: a
    ``SET LOCAL ROLE`` ends there."""
    if state.local:
        state.current_role, state.local, state.outer_role = state.outer_role, False, None


def password_literals(node: Any) -> list[str]:
    """The password strings of a CREATE/ALTER ROLE or USER MAPPING, so every output can be
    scrubbed of them."""
    ast = _ast()
    _role, _server, options = _password_options(node)
    return [
        o.arg.sval
        for o in options
        if o.defname == "password" and isinstance(o.arg, ast.String) and o.arg.sval
    ]
