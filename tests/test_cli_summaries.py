"""The top-level ``--help`` lists the commands from cli.SUMMARIES, a static table, so it
imports no command module; these tests keep the table equal to the commands' own help and
the page equal to what click prints when it imports every command. Pure logic: no server."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from pgaudit_roles import cli as cli_module
from pgaudit_roles.cli import COMMANDS, SUMMARIES, cli


def _real_commands() -> dict[str, click.Command]:
    ctx = click.Context(cli)
    out = {}
    for name in COMMANDS:
        cmd = cli.get_command(ctx, name)
        assert cmd is not None, name
        out[name] = cmd
    return out


def test_summaries_name_every_command_and_nothing_else():
    assert set(SUMMARIES) == set(COMMANDS), (
        "cli.SUMMARIES and cli.COMMANDS differ: add or remove "
        f"{sorted(set(SUMMARIES) ^ set(COMMANDS))} in SUMMARIES"
    )


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_summary_is_the_commands_own_first_sentence(name):
    cmd = _real_commands()[name]
    assert not cmd.hidden and not cmd.deprecated  # the static list shows neither
    # the first sentence of the docstring, as click shortens it with unlimited width
    assert SUMMARIES.get(name) == cmd.get_short_help_str(sys.maxsize), (
        f"cli.SUMMARIES[{name!r}] differs from the first sentence of the command's help"
    )


@pytest.mark.parametrize("width", [40, 80, 120])
def test_static_command_list_prints_what_click_prints(width):
    """The same section click's own format_commands writes after importing every command
    (the one the README's CLI reference shows), at narrow and wide terminals."""
    ctx = click.Context(cli, info_name="pgaudit-roles")
    static = click.HelpFormatter(width=width)
    cli.format_commands(ctx, static)
    loaded = click.HelpFormatter(width=width)
    click.Group.format_commands(cli, ctx, loaded)
    assert static.getvalue() == loaded.getvalue()
    assert all(f"  {name}" in static.getvalue() for name in COMMANDS)


def test_a_command_missing_from_the_table_is_still_listed(monkeypatch):
    monkeypatch.delitem(SUMMARIES, "scan")
    ctx = click.Context(cli, info_name="pgaudit-roles")
    fmt = click.HelpFormatter(width=200)
    cli_module.cli.format_commands(ctx, fmt)
    assert "Collect a snapshot of DSN, evaluate every rule" in fmt.getvalue()


@pytest.mark.parametrize("flag", ["--help", "-h", "--version"])
def test_help_and_version_import_no_command_module(flag):
    code = (
        "import sys\n"
        "from pgaudit_roles.cli import main\n"
        f"try:\n    main([{flag!r}])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('pgaudit_roles.commands')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout
    if flag != "--version":
        assert "who-can" in out.stdout and "Commands:" in out.stdout
