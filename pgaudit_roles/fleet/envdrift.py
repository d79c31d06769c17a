"""Drift between environments: the same application's roles and privileges in staging
and in production.

Why: the guide's layout is the same in every environment (``db_owner_orders_staging``
and ``db_owner_orders_prod`` play the same part), so a grant or a membership that exists
in one environment and not in the other is either a change that has not been promoted
yet or a hand-made exception: both are what a DBA team wants to see before a go-live.

How, reusing ``drift.compare`` (the raw drift of ``diff``) instead of a second comparer:

1. each audited target's snapshot gives one *view* per (application, environment) it
   holds. A role belongs to an application and an environment by the naming policy
   (``db_writer_orders_prod``: application ``orders``, environment ``prod``); a role
   without an environment suffix takes its target's ``environment`` from the inventory;
   the application is the target's ``application`` (or, for a target without one, every
   application its roles name);
2. in a view, the application's roles of that environment lose the ``_<environment>``
   suffix, and so do database names (``orders_prod`` -> ``orders``), so the two views
   name the same things the same way;
3. ``drift.compare(base, other)`` on the two views; only items that involve the
   application's roles are kept: roles and their attributes, memberships, privileges
   (grantee), ownership and default privileges (creator or grantee).

The base environment is the production one (``prod``/``production``, else the first
name in order); every other environment of the application is compared with it. A view
in a snapshot that did not read a database counts that database's items as unknown
(``drift.compare`` leaves them out), never as drift.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..audit.naming import APP_KINDS
from ..collect.snapshot import Snapshot, Table, load
from ..evaluate import drift

if TYPE_CHECKING:
    from ..audit.naming import NamingPolicy
    from ..config import Config
    from .outcome import FleetResult, TargetOutcome

PROD_NAMES = ("prod", "production", "prd", "live")
KINDS = ("roles", "memberships", "privileges", "ownership", "default-privileges")


@dataclasses.dataclass(frozen=True)
class ViewKey:
    target: str
    application: str
    environment: str


def _app_roles(snap: Snapshot, policy: NamingPolicy) -> list[tuple[str, str, str | None]]:
    """(role name, application, environment or None) for every application role."""
    out = []
    for r in snap.table("roles").dicts():
        if r["predefined"]:
            continue
        c = policy.classify_full(
            r["name"], login=bool(r["login"]), superuser=bool(r["superuser"]), predefined=False
        )
        if c.app is not None and c.kind in APP_KINDS:
            out.append((r["name"], c.app, c.environment))
    return out


def views_of(o: TargetOutcome, snap: Snapshot, policy: NamingPolicy) -> list[ViewKey]:
    """The (application, environment) pairs a target's snapshot holds."""
    roles = _app_roles(snap, policy)
    wanted = {o.target.application} if o.target.application else {a for _, a, _ in roles}
    keys: set[ViewKey] = set()
    for _, app, env in roles:
        if app not in wanted:
            continue
        env = env or o.target.environment
        if env is not None:
            keys.add(ViewKey(o.target.name, app, env))
    return sorted(keys, key=lambda k: (k.application, k.environment, k.target))


def normalized(
    snap: Snapshot, key: ViewKey, target_env: str | None, policy: NamingPolicy
) -> tuple[Snapshot, set[str]]:
    """The view: the application's roles of ``key.environment`` (and, on a target of that
    environment, those without a suffix) renamed without the suffix, databases likewise.
    Returns the renamed copy and the application's role names in it."""
    env = key.environment
    suffix = "_" + env
    app_roles = {name: e for name, app, e in _app_roles(snap, policy) if app == key.application}
    taken = {r["name"] for r in snap.table("roles").dicts()}
    rename: dict[str, str] = {}
    names: set[str] = set()
    for name, e in app_roles.items():
        if e == env:
            new = name[: -len(suffix)] if name.endswith(suffix) else name
            if new != name and new in taken:  # both spellings exist: keep the real name
                new = name
            rename[name] = new
            names.add(new)
        elif e is None and target_env == env:
            names.add(name)

    def db(name: str) -> str:
        return name[: -len(suffix)] if name.endswith(suffix) and len(name) > len(suffix) else name

    roles = snap.table("roles")
    ri = roles.columns.index("name")
    role_rows = [[*r[:ri], rename.get(r[ri], r[ri]), *r[ri + 1 :]] for r in roles.rows]
    dbs = snap.table("databases")
    di = dbs.columns.index("name")
    db_rows = [[*r[:di], db(r[di]), *r[di + 1 :]] for r in dbs.rows]
    acl = snap.table("shared_acl")
    ai, ci = acl.columns.index("object_name"), acl.columns.index("object_class")
    acl_rows = [
        [*r[:ai], db(r[ai]) if r[ci] == "database" else r[ai], *r[ai + 1 :]] for r in acl.rows
    ]
    cluster = {
        **snap.cluster,
        "roles": Table(list(roles.columns), role_rows),
        "databases": Table(list(dbs.columns), db_rows),
        "shared_acl": Table(list(acl.columns), acl_rows),
    }
    databases = [dataclasses.replace(d, name=db(d.name)) for d in snap.databases]
    return Snapshot(meta=snap.meta, cluster=cluster, databases=databases), names


def _involves(item: Any, names: set[str], fields: tuple[str, ...]) -> bool:
    if isinstance(item, str):
        return item in names
    return any(item.get(f) in names for f in fields)


def compare_views(
    base: Snapshot, base_names: set[str], other: Snapshot, other_names: set[str]
) -> dict[str, Any]:
    """The application's drift from ``base`` to ``other`` (JSON-ready)."""
    raw = drift.compare(base, other, kinds=KINDS)
    names = base_names | other_names

    def keep(items: list[Any], *fields: str) -> list[Any]:
        return [x for x in items if _involves(x, names, fields)]

    roles = raw.get("roles", {})
    members = raw.get("memberships", {})
    privs = raw.get("privileges", {})
    owners = raw.get("ownership", {})
    defaults = raw.get("default_privileges", {})
    out: dict[str, Any] = {
        "roles": {
            "only_in_base": keep(roles.get("removed", [])),
            "only_in_other": keep(roles.get("added", [])),
            "changed": keep(roles.get("changed", []), "role"),
        },
        "memberships": {
            "only_in_base": keep(members.get("removed", []), "role", "member"),
            "only_in_other": keep(members.get("added", []), "role", "member"),
            "changed": keep(members.get("changed", []), "role", "member"),
        },
        "privileges": {
            "only_in_base": keep(privs.get("revoked", []), "grantee"),
            "only_in_other": keep(privs.get("granted", []), "grantee"),
        },
        "ownership": {"changed": keep(owners.get("changed", []), "old_owner", "new_owner")},
        "default_privileges": {
            "only_in_base": keep(defaults.get("removed", []), "creator", "grantee"),
            "only_in_other": keep(defaults.get("added", []), "creator", "grantee"),
        },
    }
    out["count"] = sum(
        len(v)
        for sec in out.values()
        if isinstance(sec, dict)
        for v in sec.values()
        if isinstance(v, list)
    )
    coverage = raw.get("coverage") or {}
    out["unknown"] = [str(g) for g in coverage.get("unknown") or []]
    return out


def _sides(line: str, base: str, other: str) -> str:
    """drift's coverage lines say OLD and NEW; here the sides are environments."""
    return line.replace(" in OLD ", f" in {base} ").replace(" in NEW ", f" in {other} ")


def base_environment(envs: list[str]) -> str:
    for name in PROD_NAMES:
        if name in envs:
            return name
    return sorted(envs)[0]


def compare_fleet(
    result: FleetResult, out_dir: Path, cfg: Config
) -> tuple[list[dict[str, Any]], list[str]]:
    """Every application with views in two or more environments, each other environment
    against the base one. Returns the comparisons and notes (what could not be compared)."""
    policy = cfg.naming
    audited = [o for o in result.outcomes if o.status == "audited" and o.snapshot]
    snaps: dict[str, Snapshot] = {}
    notes: list[str] = []
    by_app: dict[str, dict[str, list[ViewKey]]] = {}
    outcome_of = {o.target.name: o for o in audited}
    for o in audited:
        try:
            snap = load(out_dir / str(o.snapshot))
        except Exception as exc:  # a snapshot that cannot be read back: say so, go on
            notes.append(
                f"{o.target.name}: snapshot not readable for the environment "
                f"comparison ({' '.join(str(exc).split())[:200]})"
            )
            continue
        keys = views_of(o, snap, policy)
        if keys:
            snaps[o.target.name] = snap
        for k in keys:
            by_app.setdefault(k.application, {}).setdefault(k.environment, []).append(k)
    out: list[dict[str, Any]] = []
    for app in sorted(by_app):
        envs = by_app[app]
        if len(envs) < 2:
            continue
        base_env = base_environment(list(envs))
        base_key = sorted(envs[base_env], key=lambda k: k.target)[0]
        base_snap, base_names = normalized(
            snaps[base_key.target], base_key, outcome_of[base_key.target].target.environment, policy
        )
        for env in sorted(e for e in envs if e != base_env):
            for key in sorted(envs[env], key=lambda k: k.target):
                other_snap, other_names = normalized(
                    snaps[key.target], key, outcome_of[key.target].target.environment, policy
                )
                drift = compare_views(base_snap, base_names, other_snap, other_names)
                drift["unknown"] = [
                    _sides(g, f"{base_env} ({base_key.target})", f"{env} ({key.target})")
                    for g in drift["unknown"]
                ]
                out.append(
                    {
                        "application": app,
                        "base": {"environment": base_env, "target": base_key.target},
                        "other": {"environment": env, "target": key.target},
                        "roles_compared": sorted(base_names | other_names),
                        **drift,
                    }
                )
    return out, notes


def summary_lines(envs: list[dict[str, Any]], limit: int = 6) -> list[str]:
    """One line per comparison, for the terminal and Markdown."""
    lines = []
    for e in envs:
        c = Counter(
            {
                k: sum(len(v) for v in e[k].values() if isinstance(v, list))
                for k in ("roles", "memberships", "privileges", "ownership", "default_privileges")
            }
        )
        parts = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in c.items() if n) or "no drift"
        lines.append(
            f"{e['application']}: {e['other']['environment']} ({e['other']['target']}) "
            f"vs {e['base']['environment']} ({e['base']['target']}): {parts}"
        )
    return lines[:limit] + ([f"... and {len(lines) - limit} more"] if len(lines) > limit else [])


def _obj(x: dict[str, Any]) -> str:
    parts = [p for p in (x.get("schema"), x.get("object")) if p]
    name = ".".join(str(p) for p in parts) or "?"
    if x.get("args"):
        name += f"({x['args']})"
    if x.get("column"):
        name += f" ({x['column']})"
    where = f" in database {x['database']}" if x.get("database") else ""
    return f"{x.get('object_class') or 'object'} {name}{where}"


def detail_lines(e: dict[str, Any], limit: int = 200) -> list[str]:
    """Human lines for one comparison (HTML and Markdown): what differs, on which side."""
    base, other = e["base"]["environment"], e["other"]["environment"]
    lines: list[str] = []
    for side, env in (("only_in_base", base), ("only_in_other", other)):
        for name in e["roles"].get(side, []):
            lines.append(f"role {name}: only in {env}")
    for c in e["roles"].get("changed", []):
        diffs = "; ".join(
            f"{attr} {vals[0]!r} in {base}, {vals[1]!r} in {other}"
            for attr, vals in c.get("changes", {}).items()
        )
        lines.append(f"role {c['role']}: {diffs}")
    for side, env in (("only_in_base", base), ("only_in_other", other)):
        for m in e["memberships"].get(side, []):
            lines.append(f"{m['member']} member of {m['role']}: only in {env}")
    for c in e["memberships"].get("changed", []):
        lines.append(
            f"{c['member']} member of {c['role']}: options {c['old']} in {base}, "
            f"{c['new']} in {other}"
        )
    for side, env in (("only_in_base", base), ("only_in_other", other)):
        for p in e["privileges"].get(side, []):
            grant = " WITH GRANT OPTION" if p.get("grantable") else ""
            lines.append(f"{p['privilege']}{grant} on {_obj(p)} to {p['grantee']}: only in {env}")
    for c in e["ownership"].get("changed", []):
        lines.append(f"{_obj(c)}: owned by {c['old_owner']} in {base}, {c['new_owner']} in {other}")
    for side, env in (("only_in_base", base), ("only_in_other", other)):
        for d in e["default_privileges"].get(side, []):
            schema = f" in schema {d['schema']}" if d.get("schema") else ""
            lines.append(
                f"default {d['privilege']} on {d['objtype']} created by {d['creator']}"
                f"{schema} (database {d['database']}) to {d['grantee']}: only in {env}"
            )
    if len(lines) > limit:
        lines = lines[:limit] + [f"... and {len(lines) - limit} more (see the fleet JSON)"]
    return lines
