"""The one docs entry point: every generated document, regenerated or checked by one command.

``python -m pgaudit_roles.docgen`` rewrites:

- README.md's generated sections (between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``
  markers): the CLI reference, the exit codes and the rule list;
- docs/rules.md, the rule reference, with each rule's Anti-pattern and Best practice taken
  from its test cases (``rule_docs``, ``rule_examples``);
- docs/audit-schema.md, the audit schema contract (``audit_schema.render_audit_schema_doc``);
- rules/validated.json, the manifest of built-in rule files validated in full
  (``validated_rules``: loading them later skips the slow query checks).

``--check`` writes nothing and exits 1 naming the stale files; a test runs it, so a new
option, rule, case or audit column that is not in the docs fails CI (in the manner of
sqlite-utils' and datasette's cog-generated docs). ``--root DIR`` works on another checkout
(its rules/, tests/rules/cases/ and docs; the CLI reference is this code's), as
``pgaudit-roles rules new`` does in its tests. Files are replaced atomically.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

import click

from .audit.audit_schema import render_audit_schema_doc as render_audit_schema
from .cli import cli
from .core.atomic import write_text
from .core.errors import COMMAND_EXITS, EXIT_CODES, AuditError
from .core.model import Rule
from .core.resources import _REPO
from .evaluate import rule_manifest, validated_rules
from .evaluate.rules import check_unique, load_dir
from .reports.registry import formats_markdown
from .rule_docs import render_readme_section, render_rules_markdown
from .rule_examples import load_examples

README = _REPO / "README.md"
WIDTH = 100
RULES_DOC = Path("docs") / "rules.md"
AUDIT_SCHEMA_DOC = Path("docs") / "audit-schema.md"


def _help(
    cmd: click.Command, path: list[str], parent: click.Context | None
) -> list[tuple[str, str]]:
    # the command's own context_settings (e.g. -h for help), as click's make_context applies
    settings = {"terminal_width": WIDTH, "max_content_width": WIDTH, **cmd.context_settings}
    ctx = click.Context(cmd, info_name=path[-1], parent=parent, **settings)
    out = [(" ".join(path), cmd.get_help(ctx))]
    if isinstance(cmd, click.Group):
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                out += _help(sub, [*path, name], ctx)
    return out


def render_cli_reference() -> str:
    parts = []
    for name, text in _help(cli, ["pgaudit-roles"], None):
        parts.append(f"### `{name}`\n\n```text\n{text.rstrip()}\n```\n")
    return "\n".join(parts)


def builtin_rules(root: Path = _REPO) -> list[Rule]:
    """The built-in rules of the checkout ``root`` (its rules/ directory), by id."""
    rules = load_dir(root / "rules", origin="builtin")
    check_unique(rules)
    return sorted(rules, key=lambda r: r.id)


def render_rule_list(rules: list[Rule] | None = None) -> str:
    return render_readme_section(builtin_rules() if rules is None else rules).rstrip() + "\n"


def render_exit_codes() -> str:
    rows = [f"| {code} | {text} |" for code, text in EXIT_CODES.items()]
    return "\n".join(["| code | meaning |", "|---|---|", *rows]) + "\n"


def render_command_exit_codes() -> str:
    rows = ["| command | 0 | 1 | 3 |", "|---|---|---|---|"]
    for name, codes in sorted(COMMAND_EXITS.items()):
        cells = [codes.get(c, "-").replace("|", "\\|") for c in (0, 1, 3)]
        rows.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def render_formats() -> str:
    return formats_markdown()


def readme_sections(rules: list[Rule] | None = None) -> dict[str, Callable[[], str]]:
    """README section name -> renderer (the rule list of ``rules``, else this checkout's)."""
    return {
        "cli": render_cli_reference,
        "exit-codes": render_exit_codes,
        "command-exit-codes": render_command_exit_codes,
        "formats": render_formats,
        "rules": lambda: render_rule_list(rules),
    }


SECTIONS = readme_sections()
"""README section name -> renderer, for this checkout."""


def update(text: str, rules: list[Rule] | None = None) -> str:
    """``text`` (a README) with every generated section replaced by its current content."""
    for name, render in readme_sections(rules).items():
        pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.S)
        if not pattern.search(text):
            raise click.UsageError(
                f"README.md has no <!-- {name}:start --> ... <!-- {name}:end --> section"
            )
        body = render()
        text = pattern.sub(lambda m, b=body: m.group(1) + b + m.group(2), text)  # type: ignore[misc]
    return text


def render_rules_doc(root: Path = _REPO, rules: list[Rule] | None = None) -> str:
    """docs/rules.md of the checkout ``root``."""
    return render_rules_markdown(
        builtin_rules(root) if rules is None else rules, load_examples(root)
    )


def render_audit_schema_doc() -> str:
    return render_audit_schema()


def generate(root: Path = _REPO) -> dict[Path, str]:
    """Every generated file of ``root``: path -> its current content."""
    readme = root / "README.md"
    rules_dir = root / "rules"
    # the manifest first: it validates every rule in full (a broken one stops here)
    manifest = rule_manifest.render_manifest(rules_dir)
    rules = builtin_rules(root)  # loaded once
    return {
        readme: update(readme.read_text(encoding="utf-8"), rules),
        root / RULES_DOC: render_rules_doc(root, rules),
        root / AUDIT_SCHEMA_DOC: render_audit_schema_doc(),
        validated_rules.manifest_path(rules_dir): manifest,
    }


def stale(root: Path = _REPO) -> list[Path]:
    """The generated files whose committed text differs from what the code generates."""
    out = []
    for path, text in generate(root).items():
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current != text:
            out.append(path)
    return out


def write(root: Path = _REPO) -> list[Path]:
    """Regenerate every document of ``root``; the files that changed."""
    changed = []
    for path, text in generate(root).items():
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            write_text(path, text)
            changed.append(path)
    return changed


def _shown(paths: list[Path], root: Path) -> str:
    return ", ".join(p.relative_to(root).as_posix() for p in paths)


def main(argv: list[str] | None = None) -> int:
    """``[--check] [--root DIR]``: regenerate the docs, or exit 1 naming the stale ones."""
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    args = [a for a in args if a != "--check"]
    root = _REPO
    if args[:1] == ["--root"] and len(args) == 2:
        root = Path(args[1]).resolve()
    elif args:
        print(
            f"usage: python -m pgaudit_roles.docgen [--check] [--root DIR] (got {' '.join(args)!r})",
            file=sys.stderr,
        )
        return 2
    try:
        if check:
            old = stale(root)
            if old:
                print(
                    f"generated docs are stale: {_shown(old, root)}: run python -m "
                    "pgaudit_roles.docgen",
                    file=sys.stderr,
                )
                return 1
            return 0
        changed = write(root)
    except (AuditError, click.UsageError, OSError) as exc:
        print(f"docgen: {exc}", file=sys.stderr)
        return 2
    if changed:
        print(f"regenerated {_shown(changed, root)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
