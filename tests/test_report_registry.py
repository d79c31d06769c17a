"""The typed reporter registry: one list feeds --format, the config check, the README and
write_reports; every reporter renders a ReportContext; outputs unchanged by the move."""

from __future__ import annotations

import dataclasses
import io
from typing import IO

import pytest
from report_fixtures import full_result

from pgaudit_roles import config as config_mod
from pgaudit_roles import reports
from pgaudit_roles.core.errors import ConfigError, UsageError
from pgaudit_roles.core.model import Finding, Rule, RuleResult, ScanResult
from pgaudit_roles.reports import registry
from pgaudit_roles.reports.registry import (
    REPORTERS,
    ReportContext,
    Reporter,
    ReportOptions,
)


def test_one_registry_feeds_every_list(tmp_path):
    names = [r.name for r in REPORTERS]
    assert len(names) == len(set(names))
    assert reports.FORMATS == tuple(names) == config_mod.FORMATS
    assert reports.EXTENSIONS == {r.name: r.extension for r in REPORTERS}
    from pgaudit_roles.commands._shared import FORMAT_HELP

    for name in names:
        assert name in FORMAT_HELP
    table = registry.formats_markdown()
    for r in REPORTERS:
        assert f"| `{r.name}` | `pgaudit-report{r.extension}` |" in table
    # the configuration accepts exactly the registry's names
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"formats = {list(names)!r}\n".replace("'", '"'))
    assert config_mod.load_config(cfg).formats == tuple(names)


def test_every_declared_option_is_a_typed_field():
    fields = {f.name for f in dataclasses.fields(ReportOptions)}
    assert reports.OPTION_NAMES == fields
    for r in REPORTERS:
        assert set(r.options) <= fields, r.name
    with pytest.raises(ValueError, match="unknown option"):
        Reporter("x", ".x", "x", lambda ctx, fh: None, ("no_such_option",))


def test_options_are_validated_with_one_line_errors():
    with pytest.raises(UsageError, match="unknown report option"):
        ReportOptions.from_kwargs(colour=True)
    with pytest.raises(UsageError, match="junit granularity must be 'rule' or 'finding'"):
        ReportOptions.from_kwargs(junit_granularity="test")
    with pytest.raises(UsageError, match="remediation level"):
        ReportOptions.from_kwargs(sql_level="most")
    # None means "the default", as the CLI passes unset options
    assert ReportOptions.from_kwargs(sarif_anchor=None).sarif_anchor == "pgaudit-roles.toml"


@pytest.mark.parametrize("fmt", ["json", "html", "junit", "sarif", "text"])
def test_registry_path_renders_what_the_module_renders(fmt):
    """The move to the typed registry changed no byte: the module's own render (the code
    path before the registry) and the registry's agree for every format."""
    import importlib

    module = {
        "json": "json_report",
        "html": "html_report",
        "junit": "junit_report",
        "sarif": "sarif_report",
        "text": "text_report",
        "prometheus": "prometheus_report",
    }[fmt]
    mod = importlib.import_module(f"pgaudit_roles.reports.{module}")
    result = full_result()
    via_registry = reports.render(result, fmt)
    assert via_registry == mod.render(result)
    assert via_registry  # something was written


def test_a_new_reporter_needs_only_a_registry_entry(monkeypatch, tmp_path):
    seen: list[ReportContext] = []

    def render(ctx: ReportContext, fh: IO[str]) -> None:
        seen.append(ctx)
        fh.write(f"{ctx.summary.verdict} {ctx.options.sarif_anchor}\n")

    extra = Reporter("probe", ".probe.txt", "a test reporter", render, ("sarif_anchor",))
    monkeypatch.setitem(registry.BY_NAME, "probe", extra)
    paths = reports.write_reports(full_result(), ["probe", "json"], tmp_path, sarif_anchor="a.toml")
    assert paths["probe"].name == "pgaudit-report.probe.txt"
    assert paths["probe"].read_text() == f"{seen[0].summary.verdict} a.toml\n"
    assert isinstance(seen[0], ReportContext) and seen[0].options.report_paths == paths


def _login_result() -> ScanResult:
    rule = Rule(
        id="PGR-L-001",
        title="t",
        severity="medium",
        category="c",
        rationale="r",
        query="SELECT 1",
        message="m",
    )
    f = Finding(
        "PGR-L-001",
        "medium",
        "l",
        role="newapp",
        remediation="CREATE ROLE newapp LOGIN NOSUPERUSER;",
    )
    return ScanResult(results=[RuleResult(rule=rule, status="fail", findings=[f])], meta={})


def test_sql_header_names_the_file_written_and_one_backslash(tmp_path):
    result = _login_result()
    paths = reports.write_reports(result, ["sql"], tmp_path, basename="prod audit")
    script = paths["sql"].read_text()
    assert "--     psql -X -v ON_ERROR_STOP=1 -f 'prod audit.sql'\n" in script
    assert "remediation.sql" not in script
    assert "psql's \\password;" in script and "\\\\password" not in script
    on_stdout = io.StringIO()
    reports.write_format(result, "sql", on_stdout)
    assert "-f pgaudit-report.sql\n" in on_stdout.getvalue()


def test_unknown_format_names_the_choices(tmp_path):
    with pytest.raises(UsageError, match=r"unknown report format 'pdf' \(choose from json, html"):
        reports.parse_formats("json,pdf")
    cfg = tmp_path / "c.toml"
    cfg.write_text('formats = ["json", "pdf"]\n')
    with pytest.raises(ConfigError, match="unknown format 'pdf'"):
        config_mod.load_config(cfg)
