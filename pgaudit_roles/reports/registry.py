"""The one list of report formats: each reporter's name, file extension, options and render
function, over one typed context.

Why one registry: ``--format`` choices, the configuration check, the README's format table
and ``write_reports`` all read ``REPORTERS``, so a new format is one ``Reporter(...)`` line
here plus its module (with a ``write_report(ctx, fh)`` function), and nothing else can
forget it. Reporter modules are imported on first render (``_lazy``), so listing the
formats (for ``--help``) costs no import of Jinja2 or a reporter.

Every reporter receives a :class:`ReportContext`: the scan result, the typed
:class:`ReportOptions` and, computed once and shared, the :class:`~.common.Summary`.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..core.errors import UsageError
from .common import summarize

if TYPE_CHECKING:
    from ..core.model import ScanResult
    from .common import Summary

RenderFn = Callable[["ReportContext", IO[str]], None]
"""Write one report for a context into an open text stream (a file or stdout)."""
ExtraFn = Callable[["ReportContext"], list[tuple[str, RenderFn]]]

DEFAULT_BASENAME = "pgaudit-report"


@dataclass(frozen=True)
class ReportOptions:
    """Every option a reporter reads, typed, with its default. Each ``Reporter`` names the
    fields it reads (``Reporter.options``); the docs list them per format."""

    sql_level: str = "safe"
    """remediation script: ``safe`` lists destructive statements as comments, ``all`` emits them."""
    sql_verification: Any = None
    """remediation script: the twin's proof (``verify.Verification``), or None (unverified)."""
    sarif_anchor: str = "pgaudit-roles.toml"
    """SARIF: the repository file results point at (GitHub code scanning needs a file)."""
    sarif_include_suppressed: bool = True
    """SARIF: keep waived findings, with a suppression carrying the waiver's reason."""
    junit_granularity: str = "rule"
    """JUnit: one test case per ``rule`` (per database) or per ``finding``."""
    html_rows_per_rule: int = 50
    """HTML: findings rendered as rows per rule before "Show more"."""
    html_max_embedded: int = 20000
    """HTML: further findings embedded as data for "Show more" (beyond: counts only)."""
    html_max_listed: int = 500
    """HTML: rows of the waived/baselined/resolved/login-role lists."""
    graph_max_nodes: int = 300
    """HTML: roles drawn in the membership graph (beyond: identical members bundled)."""
    report_paths: Mapping[str, Path] | None = None
    """Where this run writes each format: the text summary lists them, the SQL script's
    header names its own file."""
    text_width: int | None = None
    """text: wrap to this many columns (None: do not wrap)."""
    text_color: bool = False
    """text: ANSI colours (only ever on a terminal without NO_COLOR)."""

    @classmethod
    def from_kwargs(cls, **options: Any) -> ReportOptions:
        """Options given by keyword (``None`` means "the default"); an unknown name or a
        value outside its choices is a usage error (exit 2), never a traceback."""
        unknown = sorted(set(options) - OPTION_NAMES)
        if unknown:
            raise UsageError(f"unknown report option(s): {', '.join(unknown)}")
        given = {k: v for k, v in options.items() if v is not None}
        for name, choices in _CHOICES.items():
            if name in given and given[name] not in choices:
                raise UsageError(
                    f"{_CHOICE_LABEL[name]} must be "
                    f"{' or '.join(repr(c) for c in choices)}, not {given[name]!r}"
                )
        return cls(**given)


_CHOICES: dict[str, tuple[str, ...]] = {
    "junit_granularity": ("rule", "finding"),
    "sql_level": ("safe", "all"),
}
_CHOICE_LABEL = {"junit_granularity": "junit granularity", "sql_level": "remediation level"}

OPTION_NAMES: frozenset[str] = frozenset(f.name for f in dataclasses.fields(ReportOptions))
"""Options ``write_reports``/``render`` accept by keyword."""


@dataclass
class ReportContext:
    """What every reporter renders: one scan, its options, the summary computed once."""

    result: ScanResult
    options: ReportOptions = field(default_factory=ReportOptions)

    @cached_property
    def summary(self) -> Summary:
        return summarize(self.result)

    def path_of(self, fmt: str, default: str) -> str:
        """The file name this run writes ``fmt`` to, or ``default`` (e.g. on stdout)."""
        paths = self.options.report_paths or {}
        return Path(paths[fmt]).name if fmt in paths else default


@dataclass(frozen=True)
class Reporter:
    """One report format."""

    name: str
    extension: str
    description: str
    render: RenderFn
    options: tuple[str, ...] = ()
    machine: bool = True
    """False for the terminal summary (``text``): it is never the one stdout format of
    ``--output-dir -``; the summary goes to stderr then."""
    needs: tuple[str, ...] = ()
    """Facts the engine computes only when a format asks (``ScanResult.inventory`` keys,
    e.g. ``access_review``): too large to compute on every scan."""
    extra_files: ExtraFn | None = None
    """More files written beside the main one, ``(suffix, render)`` each (``csv``: one per
    application); the file is ``<basename><suffix>``."""

    def __post_init__(self) -> None:
        bad = [o for o in self.options if o not in OPTION_NAMES]
        if bad:  # a typo in a declaration fails at import, in every test
            raise ValueError(f"reporter {self.name}: unknown option(s) {bad}")


_RENDER_MODULES: dict[RenderFn, str] = {}
"""The module each lazy render function imports on its first call (see :func:`modules`)."""


def modules(formats: Iterable[str]) -> list[str]:
    """The modules that render ``formats`` and the libraries they import on first use:
    a live scan imports them while it collects (``pipeline.EvaluationStart``) instead of
    after the evaluation."""
    out: list[str] = []
    for fmt in formats:
        rep = BY_NAME.get(fmt)
        if rep is None:
            continue
        module = _RENDER_MODULES.get(rep.render)
        for name in ([module] if module else []) + list(_LIBRARIES.get(fmt, ())):
            if name not in out:
                out.append(name)
    return out


_LIBRARIES: dict[str, tuple[str, ...]] = {
    "html": ("jinja2", "grandalf.graphs", "grandalf.layouts"),  # templates, the graph's layout
    "junit": ("junit_xml",),
}
"""Libraries a format's reporter imports inside its functions (kept lazy there so the
modules load fast); ``tests/test_report_modules.py`` checks the list against a render."""


def _lazy(module: str, function: str = "write_report") -> RenderFn:
    """A render function that imports ``pgaudit_roles.reports.<module>`` on first call
    (looked up on every call, so a test can replace the module's function)."""

    def render(ctx: ReportContext, fh: IO[str]) -> None:
        try:
            mod = importlib.import_module(f"pgaudit_roles.reports.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"pgaudit_roles.reports.{module}":
                raise
            raise UsageError(f"the {module} report is not available in this build") from None
        getattr(mod, function)(ctx, fh)

    render.__name__ = f"{module}.{function}"
    _RENDER_MODULES[render] = f"pgaudit_roles.reports.{module}"
    return render


def _lazy_extra(module: str, function: str) -> ExtraFn:
    """Like ``_lazy``, for a reporter's ``extra_files``."""

    def extra(ctx: ReportContext) -> list[tuple[str, RenderFn]]:
        mod = importlib.import_module(f"pgaudit_roles.reports.{module}")
        files: list[tuple[str, RenderFn]] = getattr(mod, function)(ctx)
        return files

    return extra


_HTML_OPTIONS = ("html_rows_per_rule", "html_max_embedded", "html_max_listed", "graph_max_nodes")

REPORTERS: tuple[Reporter, ...] = (
    Reporter(
        "json",
        ".json",
        "The versioned machine-readable report "
        "(schemas/report.schema.json): summary, rules, findings.",
        _lazy("json_report"),
    ),
    Reporter(
        "html",
        ".html",
        "One self-contained page for people: top risks, checklist, "
        "findings with fix and rationale (filters kept in the URL), roles, a searchable "
        "membership graph.",
        _lazy("html_report"),
        _HTML_OPTIONS,
    ),
    Reporter(
        "junit",
        ".junit.xml",
        "JUnit XML for CI test views: one suite per database, one case per rule (or finding).",
        _lazy("junit_report"),
        ("junit_granularity",),
    ),
    Reporter(
        "sarif",
        ".sarif",
        "SARIF 2.1.0 for code scanning (GitHub, GitLab).",
        _lazy("sarif_report"),
        ("sarif_anchor", "sarif_include_suppressed"),
    ),
    Reporter(
        "sql",
        ".sql",
        "The remediation script for psql, in phases, one transaction per "
        "database, verified on a twin when possible.",
        _lazy("sql_script"),
        ("sql_level", "sql_verification", "report_paths"),
    ),
    Reporter(
        "markdown",
        ".md",
        "A compact summary (gate, counts, top risks, checklist, "
        "coverage gaps) for $GITHUB_STEP_SUMMARY or a merge-request comment.",
        _lazy("markdown_report"),
        ("report_paths",),
    ),
    Reporter(
        "csv",
        ".access.csv",
        "Access review: one row per login role, database, object, "
        "privilege and how it is held, with empty reviewer/decision/date columns "
        "(SOC 2 CC6, ISO 27001 A.9); also one file per application.",
        _lazy("csv_report"),
        needs=("access_review",),
        extra_files=_lazy_extra("csv_report", "per_application"),
    ),
    Reporter(
        "text",
        ".txt",
        "The terminal summary: gate, counts, top findings, gaps.",
        _lazy("text_report"),
        ("report_paths", "text_width", "text_color"),
        machine=False,
    ),
    Reporter(
        "prometheus",
        ".prom",
        "node_exporter textfile-collector metrics: findings by "
        "target, rule and severity; gate; coverage gaps; duration; last successful scan.",
        _lazy("prometheus_report"),
    ),
)

BY_NAME: dict[str, Reporter] = {r.name: r for r in REPORTERS}
FORMATS: tuple[str, ...] = tuple(BY_NAME)
EXTENSIONS: dict[str, str] = {r.name: r.extension for r in REPORTERS}
MACHINE_FORMATS: tuple[str, ...] = tuple(r.name for r in REPORTERS if r.machine)


def inventory_needs(formats: Iterable[str]) -> set[str]:
    """What the engine must compute for these formats (unknown names are ignored here:
    they are refused where the formats are parsed)."""
    return {need for f in formats if f in BY_NAME for need in BY_NAME[f].needs}


def reporter(name: str) -> Reporter:
    """The reporter called ``name`` (exit 2 with the list otherwise)."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise UsageError(
            f"unknown report format {name!r} (choose from {', '.join(FORMATS)})"
        ) from None


def parse_formats(spec: str | Iterable[str]) -> list[str]:
    """``"json,html"`` or a list -> validated, de-duplicated format names (exit 2 otherwise)."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for item in items:
        name = item.strip().lower()
        if not name:
            continue
        reporter(name)
        if name not in out:
            out.append(name)
    return out


def format_help(default: str = "default from config, else text") -> str:
    """The ``--format`` help of scan and check, from the registry."""
    return f"Comma-separated: {', '.join(FORMATS)} ({default})."


def formats_markdown() -> str:
    """The README's table of formats (docgen section ``formats``)."""
    rows = ["| format | file | what it is | options |", "|---|---|---|---|"]
    for r in REPORTERS:
        opts = ", ".join(
            f"`{o}`" for o in r.options if o not in ("report_paths", "sql_verification")
        )
        rows.append(
            f"| `{r.name}` | `{DEFAULT_BASENAME}{r.extension}` | {r.description} | {opts or '-'} |"
        )
    return "\n".join(rows) + "\n"
