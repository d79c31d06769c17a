"""Keep README.md true: the CLI reference and the rule list are generated, never hand-edited.

``python -m pgaudit_roles.docgen`` rewrites the generated sections of README.md (between
``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` markers); ``--check`` exits 1 when they
are stale. A test runs the check, so a new option or rule that is not in the README fails
CI, in the manner of sqlite-utils' and datasette's cog-generated docs.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

import click

README = Path(__file__).resolve().parent.parent / "README.md"
WIDTH = 100


def _help(cmd: click.Command, path: list[str], parent: click.Context | None) -> list[tuple[str, str]]:
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
    from .cli import cli

    parts = []
    for name, text in _help(cli, ["pgaudit-roles"], None):
        parts.append(f"### `{name}`\n\n```text\n{text.rstrip()}\n```\n")
    return "\n".join(parts)


def render_rule_list() -> str:
    from .rule_docs import render_readme_section
    from .rules import load_rules

    return render_readme_section(load_rules()).rstrip() + "\n"


def render_exit_codes() -> str:
    from .errors import EXIT_CODES

    rows = [f"| {code} | {text} |" for code, text in EXIT_CODES.items()]
    return "\n".join(["| code | meaning |", "|---|---|", *rows]) + "\n"


def render_command_exit_codes() -> str:
    from .errors import COMMAND_EXITS

    rows = ["| command | 0 | 1 | 3 |", "|---|---|---|---|"]
    for name, codes in sorted(COMMAND_EXITS.items()):
        cells = [codes.get(c, "-").replace("|", "\\|") for c in (0, 1, 3)]
        rows.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def render_formats() -> str:
    from .reports.registry import formats_markdown

    return formats_markdown()


SECTIONS: dict[str, Callable[[], str]] = {
    "cli": render_cli_reference,
    "exit-codes": render_exit_codes,
    "command-exit-codes": render_command_exit_codes,
    "formats": render_formats,
    "rules": render_rule_list,
}


def update(text: str) -> str:
    """``text`` with every generated section replaced by its current content."""
    for name, render in SECTIONS.items():
        pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"README.md has no <!-- {name}:start --> ... <!-- {name}:end --> section")
        body = render()
        text = pattern.sub(lambda m, b=body: m.group(1) + b + m.group(2), text)  # type: ignore[misc]
    return text


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    current = README.read_text(encoding="utf-8")
    fresh = update(current)
    if "--check" in args:
        if fresh != current:
            print("README.md generated sections are stale: run python -m pgaudit_roles.docgen",
                  file=sys.stderr)
            return 1
        return 0
    if fresh != current:
        README.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
