"""Terminal summary: one line per name, no escape sequences from data, colour only on a TTY."""

from __future__ import annotations

import io

from report_fixtures import SECRET, empty_result, full_result

from pgaudit_roles.reports import render, text_report


def test_summary_contents():
    text = render(full_result(), "text")
    assert "FAIL: 7 findings at or above high (3 critical, 4 high)" in text
    assert "critical 3" in text and "waived 1" in text
    assert "baseline: new 12, unchanged 3, resolved 1" in text
    assert "Not collected" in text and "hba_rules" in text
    assert "SKIPPED PGR-HBA-004" in text and "ERROR PGR-OWN-005" in text
    assert SECRET not in text


def test_names_cannot_forge_lines_or_colour():
    text = render(full_result(), "text")
    assert "\x1b" not in text
    assert "\u202e" not in text and "\u2028" not in text
    forged = [line for line in text.splitlines() if line.startswith("line FAIL")]
    assert not forged
    assert "new\\nline FAIL: forged" in text


def test_colour_only_when_asked():
    plain = text_report.render_text(full_result(), color=False)
    coloured = text_report.render_text(full_result(), color=True)
    assert "\x1b[" not in plain and "\x1b[" in coloured
    # click.echo strips styles when the stream is not a terminal
    buf = io.StringIO()
    text_report.echo_summary(full_result(), file=buf)
    assert "\x1b[" not in buf.getvalue() and "FAIL" in buf.getvalue()


def test_no_color_env(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    buf = Tty()
    text_report.echo_summary(full_result(), file=buf)
    assert "\x1b[" not in buf.getvalue()


def test_tty_gets_colour(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    buf = Tty()
    text_report.echo_summary(full_result(), file=buf)
    assert "\x1b[" in buf.getvalue()


def test_clean_scan_and_report_paths():
    text = text_report.render_text(empty_result(), report_paths={"html": "out/r\nx.html"})
    assert "PASS: no findings at or above high" in text
    assert "out/r\\nx.html" in text and "Top findings" not in text


def test_printable_escapes():
    from pgaudit_roles.reports.common import printable

    assert printable("plain name") == "plain name"
    assert printable("a\nb\tc\x1b\x7f") == "a\\nb\\tc\\x1b\\x7f"
    assert printable("a\\nb") == "a\\\\nb"  # a real backslash-n stays distinguishable
    assert printable("\u202eabc\u2028") == "\\u202eabc\\u2028"
    assert printable("ünïcødé 日本") == "ünïcødé 日本"
