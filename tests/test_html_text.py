"""``reports.html_text.ident``: identifiers get break chances at separators, every piece is
escaped, paired backticks become <code>, and the cached result is the same Markup each
time. Pure logic: no server."""

from __future__ import annotations

from markupsafe import Markup

from pgaudit_roles.reports.html_text import ident


def test_breaks_after_separators_and_in_long_runs() -> None:
    assert ident("billing_prod.refund") == "billing_<wbr>prod.<wbr>refund"
    assert ident("a" * 30) == "a" * 12 + "<wbr>" + "a" * 12 + "<wbr>" + "a" * 6
    # a hyphen inside a run of separators is a break chance too: it ends its piece
    assert ident("demo-pg18-_x1") == "demo-<wbr>pg18-<wbr>_<wbr>x1"
    assert ident("a-/b") == "a-<wbr>/<wbr>b"
    assert ident("x" * 24 + " y") == "x" * 24 + " y"  # a run of 24 stays whole
    assert ident(None) == "" and ident(42) == "42"


def test_everything_is_escaped_and_backticks_pair() -> None:
    hostile = "<script>alert('x')</script>"
    got = ident(hostile)
    assert "<script>" not in got and "&lt;script&gt;" in got and "&#39;x&#39;" in got
    assert ident("run `a_b` now") == "run <code>a_<wbr>b</code> now"
    assert ident("odd `one") == "odd `one"  # an unpaired backtick stays as it is
    assert ident('q"\n\u202e') == "q&#34;\\n\\u202e"  # printable() first, then escaped


def test_cached_result_is_markup_and_stable() -> None:
    first, second = ident("db_owner_api.x"), ident("db_owner_api.x")
    assert isinstance(first, Markup) and first == second
    # Markup is never escaped again when a template joins it
    assert Markup("<td>{}</td>").format(first) == "<td>db_<wbr>owner_<wbr>api.<wbr>x</td>"
