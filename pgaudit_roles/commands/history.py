"""``pgaudit-roles history DIR``: the trend recorded by ``scan``/``check --history DIR``."""

from __future__ import annotations

from pathlib import Path

import click

from ..core.atomic import write_text
from ..core.errors import UsageError
from ..history.render import write
from ..history.store import load
from ..history.trend import build, parse_since
from ._args import output_file_option, text_json_html_format


@click.command("history")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--target",
    "-t",
    metavar="NAME",
    help="Only this target (as recorded: --target-name, else the cluster's host:port).",
)
@click.option(
    "--since",
    metavar="DATE",
    help="Show runs from this date (ISO, UTC), e.g. 2026-01-31; earlier runs still "
    "date when a finding first appeared.",
)
@text_json_html_format
@output_file_option
@click.option(
    "--longest",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="How many longest-open findings to list per target.",
)
def history(
    directory: Path,
    target: str | None,
    since: str | None,
    fmt: str,
    output: Path | None,
    longest: int,
) -> None:
    """Trend of the runs recorded in DIRECTORY (`scan --history DIR`, `check --history DIR`).

    Per target: findings per severity over time, new and resolved per run (resolved only
    when the later run looked where the finding lies: a database or source it could not
    read makes the finding unknown, never resolved, as in `diff`), time to fix per rule
    and the longest-open findings. Reads the Parquet files with DuckDB; no server. Exit 0,
    or 2 when DIRECTORY is not a history store or an option is wrong.
    """

    when = parse_since(since)
    store = load(directory)
    try:
        trend = build(store, target=target, since=when, longest=longest)
    finally:
        store.close()
    text = write(trend, fmt)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        write_text(output, text)
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
