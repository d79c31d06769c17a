"""``pgaudit-roles rules list|show|new``: what the scanner checks, from the rule files; ``new``
scaffolds a rule in a source checkout (``rule_scaffold``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..config import load_config
from ..core.errors import UsageError
from ..core.model import SEVERITIES, Rule
from ..core.resources import _REPO
from ..evaluate.rules import CATEGORIES, find_rule
from ..pipeline import load_rules_for
from ..reports.common import json_text, printable
from ..rule_scaffold import new_rule as scaffold
from ._args import TextChoice, rules_dir_option


@click.group("rules")
def rules() -> None:
    """List the rules, show one rule's metadata, query and remediation, or start a new one."""


CONFIG_HELP = (
    "Configuration file: its rules_dirs are loaded, its severity overrides "
    "shown and its disabled rules marked (default: .pgaudit-roles.toml or "
    "[tool.pgaudit-roles] in pyproject.toml, searched upwards)."
)


def _load(rules_dirs: tuple[Path, ...], config_path: Path | None) -> tuple[list[Any], Any]:
    """The rules a scan with this configuration would load, and the configuration."""

    cfg = load_config(config_path, overrides={"rules_dirs": [str(d) for d in rules_dirs] or None})
    return load_rules_for(cfg), cfg


@rules.command("list")
@click.option(
    "--format",
    "fmt",
    type=TextChoice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format ('table' is accepted for text).",
)
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), help=CONFIG_HELP
)
@rules_dir_option
def list_rules(fmt: str, config_path: Path | None, rules_dirs: tuple[Path, ...]) -> None:
    """Every rule: id, severity, category and the secure condition it checks.

    The severity shown is the effective one (the configuration's override, when it has
    one); rules the configuration disables are marked [disabled].
    """
    loaded, cfg = _load(rules_dirs, config_path)
    if fmt == "json":
        out = []
        for r in loaded:
            d = rule_json(r)
            d["effective_severity"] = cfg.severity.get(r.id, r.severity)
            d["disabled"] = r.id in cfg.disabled
            out.append(d)
        click.echo(json_text(json.dumps(out, indent=2, ensure_ascii=False)))
        return

    width = max([len(r.id) for r in loaded] + [4])
    click.echo(f"{'ID':<{width}}  {'SEVERITY':<8}  {'CATEGORY':<18}  TITLE")
    for r in loaded:
        user = ("  [user]" if r.origin == "user" else "") + ("  [draft]" if r.draft else "")
        off = "  [disabled]" if r.id in cfg.disabled else ""
        sev = cfg.severity.get(r.id, r.severity)
        click.echo(f"{r.id:<{width}}  {sev:<8}  {r.category:<18}  {printable(r.title)}{user}{off}")


@rules.command("show")
@click.argument("rule_id")
@click.option(
    "--format",
    "fmt",
    type=TextChoice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format (json: the rule's metadata, query and "
    "templates, as `rules list --format json` gives them).",
)
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), help=CONFIG_HELP
)
@rules_dir_option
def show_rule(
    rule_id: str, fmt: str, config_path: Path | None, rules_dirs: tuple[Path, ...]
) -> None:
    """One rule in full (RULE_ID may be a former id, an alias)."""

    loaded, cfg = _load(rules_dirs, config_path)
    r = find_rule(loaded, rule_id.strip().upper())
    if r is None:
        raise UsageError(f"unknown rule {rule_id!r} (see `pgaudit-roles rules list`)")
    if fmt == "json":
        d = rule_json(r)
        d["effective_severity"] = cfg.severity.get(r.id, r.severity)
        d["disabled"] = r.id in cfg.disabled
        click.echo(json_text(json.dumps(d, indent=2, ensure_ascii=False, default=str)))
        return
    click.echo(render_rule_text(r))


@rules.command("new")
@click.argument("rule_id")
@click.option(
    "--category",
    type=click.Choice([c for c in CATEGORIES if c != "migrations"]),
    help="The rule's category  [default: the one the catalogue uses for the id's "
    "middle part, e.g. ROLE -> roles]",
)
@click.option(
    "--severity",
    type=click.Choice(list(SEVERITIES)),
    default="medium",
    show_default=True,
    help="The rule's severity.",
)
@click.option("--title", help="The secure condition it checks (else a TODO placeholder).")
@click.option(
    "--root",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="The source checkout to write into  [default: the one this program runs from]",
)
def new_rule(
    rule_id: str, category: str | None, severity: str, title: str | None, root: Path | None
) -> None:
    """Start a built-in rule RULE_ID (PGR-<CATEGORY>-<NNN>) in a source checkout: a draft
    rules/RULE_ID.toml (loaded and documented, never evaluated until `draft = true` is
    removed), its fail and pass cases in tests/rules/cases/RULE_ID.toml, a stub in each
    rules/frameworks/*.toml, then the regenerated docs. Every placeholder says
    TODO(rules new); the meta-tests refuse to ship one. An id that is malformed or used
    (also as a former id) is refused (exit 2) and nothing is written.
    """

    where = (root or _REPO).resolve()
    made = scaffold(rule_id, where, category=category, severity=severity, title=title)
    for path in (made.rule, made.cases, *made.frameworks, *made.docs):
        click.echo(f"wrote {path.relative_to(where).as_posix()}")
    click.echo(
        f"next: fill in every TODO(rules new), then `pgaudit-roles rules show "
        f"{made.rule.stem}` and `python -m pytest tests/rules -k {made.rule.stem}`"
    )


def rule_json(r: object) -> dict[str, object]:
    """A rule's metadata as JSON-ready data (also used by reporters)."""
    from dataclasses import asdict

    d = asdict(r)  # type: ignore[call-overload]
    d["references"] = [dict(x) for x in d["references"]]
    for k in ("aliases", "requires", "tags"):
        d[k] = list(d[k])
    return d


def render_rule_text(r: object) -> str:
    assert isinstance(r, Rule)
    lines = [
        f"{r.id}: {r.title}",
        "",
        f"severity:           {r.severity}",
        f"category:           {r.category}",
        f"object type:        {r.object_type}",
        f"min server version: {r.min_server_version}",
        f"requires:           {', '.join(r.requires) or '-'}",
        f"fix safety:         {r.fix_safety}{' (destructive)' if r.destructive else ''}",
    ]
    if r.aliases:
        lines.append(f"aliases:            {', '.join(r.aliases)}")
    if r.tags:
        lines.append(f"tags:               {', '.join(r.tags)}")
    lines.append(f"file:               {r.path}")
    lines += ["", "Rationale:", _indent(r.rationale), "", "References:"]
    for ref in r.references:
        lines.append(f"  - [{ref.kind}] {ref.text}" + (f" <{ref.url}>" if ref.url else ""))
    if r.check is not None:
        lines += ["", f"Statement check (lint): {r.check}"]
    elif r.reported_by is not None:
        lines += [
            "",
            f"Reported by: pgaudit-roles {r.reported_by} (no query: no snapshot holds it)",
        ]
    else:
        lines += ["", "Query:", _indent(r.query.strip())]
    lines += ["", "Message:", _indent(r.message)]
    if r.remediation:
        lines += ["", "Remediation template:", _indent(r.remediation.strip())]
    if r.manual:
        lines += ["", "Manual procedure:", _indent(r.manual.strip())]
    return "\n".join(lines)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.strip("\n").splitlines())
