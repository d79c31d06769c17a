"""``pgaudit-roles paths SNAPSHOT_OR_DSN [--from ROLE] [--to TARGET]``: escalation routes.

Why a command of its own: a finding says "app_api can become superuser in 3 hops"; the
person fixing it needs every hop, the evidence for it, the SQL an attacker would run and
the SQL that removes it. Routes come from ``pgaudit_roles.audit.escalation`` over the audit
schema's ``escalation_edges`` (the same search that fills ``escalation_paths`` for the
rules), so the command and the findings agree. Names are printed as SQL identifiers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..audit.escalation import FIX_PARTS, Graph
from ..core.errors import UsageError
from .query import echo_json_or_text, open_audit, printable, reading, sql_name

STANDARD_TARGETS = ("superuser", "os", "owner", "predefined", "remote")
TABLES = ("roles", "escalation_edges")
"""The audit tables :func:`gather` reads (``escalation.Graph.load``): the load builds only
these and what they are built from."""
_TARGET_ORDER = {"superuser": 0, "os": 1, "owner": 2, "predefined": 3, "remote": 4, "role": 5}


def gather(con: Any, from_role: str | None, to: str | None) -> list[dict[str, Any]]:
    """Routes as plain data, worst first (also the --format json output)."""

    graph = Graph.load(con)
    names = {r["name"] for r in graph.roles.values()}
    if from_role is not None and from_role != "PUBLIC" and from_role not in names:
        raise UsageError(f"--from: role {sql_name(from_role)} is not in the snapshot")
    if to is not None and to not in STANDARD_TARGETS and to not in names:
        raise UsageError(
            f"--to: {sql_name(to)} is neither superuser, os, owner, predefined, "
            "remote nor a role in the snapshot"
        )
    routes = []
    for target in (to,) if to else STANDARD_TARGETS:
        routes += graph.routes(target, from_role)
    out: list[dict[str, Any]] = []
    for r in routes:
        hop, fix = r.weakest()
        steps = []
        for i, e in enumerate(r.edges):
            steps.append(
                {
                    "from": r.nodes[i],
                    "to": r.nodes[i + 1],
                    "kind": e.kind,
                    "database": e.database,
                    "object": e.object_identity,
                    "evidence": e.evidence,
                    "action": e.action,
                    "fix": e.fix,
                    "fix_parts": dict(zip(FIX_PARTS, e.fix_parts, strict=False)),
                }
            )
        out.append(
            {
                "from": r.start_label,
                "from_kind": r.from_kind,
                "target_kind": r.target_kind,
                "target": r.target,
                "target_app": r.target_app,
                "hops": len(r.edges),
                "route": r.text(),
                "steps": steps,
                "weakest_hop": hop,
                "weakest_fix": fix,
            }
        )
    out.sort(
        key=lambda x: (
            _TARGET_ORDER.get(str(x["target_kind"]), 9),
            x["from"] != "PUBLIC",
            int(x["hops"]),
            str(x["from"]),
            str(x["target"]),
        )
    )
    return out


def render(routes: list[dict[str, Any]]) -> str:
    if not routes:
        return "No escalation route found."
    lines = [f"{len(routes)} route{'s' if len(routes) != 1 else ''}, worst first:", ""]
    for n, r in enumerate(routes, 1):
        who = (
            "PUBLIC"
            if r["from"] == "PUBLIC" and r["from_kind"] == "PUBLIC"
            else sql_name(r["from"])
        )
        target = (
            sql_name(r["target"])
            if r["target_kind"] in ("owner", "predefined", "role")
            else printable(r["target"])
        )
        lines.append(f"{n}. {who} -> {target} ({r['hops']} hop{'s' if r['hops'] != 1 else ''})")
        for i, s in enumerate(r["steps"], 1):
            where = f" [database {sql_name(s['database'])}]" if s["database"] else ""
            lines.append(f"   {i}) --{s['kind']}--> {printable(s['to'])}{where}")
            lines.append(f"      why:  {printable(s['evidence'])}")
            if s["action"]:
                lines.append(f"      take: {printable(s['action'])}")
            if s["fix"]:
                lines.append(f"      fix:  {printable(s['fix'])}")
        if r["weakest_hop"]:
            lines.append(f"   weakest hop: {r['weakest_hop']}: {printable(r['weakest_fix'])}")
        lines.append("")
    return "\n".join(lines).rstrip()


@click.command("paths")
@click.argument("target", metavar="SNAPSHOT_OR_DSN")
@click.option(
    "--from",
    "from_role",
    metavar="ROLE",
    help="Only routes starting at this role (PUBLIC for what every role reaches). "
    "Default: every login role that is not superuser-equivalent, and PUBLIC.",
)
@click.option(
    "--to",
    "to",
    metavar="superuser|os|owner|predefined|remote|ROLE",
    help="Only routes to superuser-equivalent, OS access, an owner-kind role, a "
    "dangerous predefined role, a PUBLIC user mapping's remote login, or the "
    "named role. Default: all but named roles.",
)
@click.option(
    "--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Configuration file (naming policy, collection settings).",
)
def paths(
    target: str, from_role: str | None, to: str | None, fmt: str, config_path: Path | None
) -> None:
    """Shortest escalation routes, every hop with its evidence, the SQL that takes it
    and the SQL that removes it.

    \b
      pgaudit-roles paths snap.json
      pgaudit-roles paths snap.json --from app_api --to superuser
      pgaudit-roles paths snap.json --from PUBLIC --format json
      pgaudit-roles paths "host=db1 user=auditor" --to db_owner_billing

    Routes from login roles never pass through PUBLIC; ask --from PUBLIC for those.
    """
    con, _snap = open_audit(target, config_path, reading(TABLES))
    try:
        routes = gather(con, from_role, to)
    finally:
        con.close()
    echo_json_or_text(routes, fmt, render)
