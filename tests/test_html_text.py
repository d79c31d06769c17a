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


# _breakable's one-call path (no word longer than _LONG_RUN) against the piecewise
# definition it must equal: separators, hyphen runs, spaces, every character escaping
# touches, long words, non-ASCII. A difference here would change the HTML report's bytes.
_BREAK_CASES = [
    "",
    "billing_prod.refund",
    "demo-pg18-_x1",
    "a--b",
    "-lead_and_trail-",
    "db_owner_api.x (legacy), v2: a/b",
    "  two  spaces  ",
    "<b>a&b</b>'q' \"dq\"",
    "x" * 24,
    "x" * 25,
    "x" * 24 + "_" + "y" * 24,
    "&" * 30,
    "<" * 13 + "-" + ">" * 26,
    "ünïcødé_rôle_日本" * 3,
    'Tenant "Ünïcødé" <b>.new\\nline',
    "word " * 20 + "a" * 40,
]


def _strings(seed: int, n: int) -> list[str]:
    import random

    rng = random.Random(seed)
    alphabet = "ab_./:,(- &<>'\"xé日"
    out = []
    for _ in range(n):
        length = rng.choice([0, 1, 5, 12, 24, 25, 30, 60])
        run = rng.choice([alphabet, "ab", "a_", "&a"])
        out.append("".join(rng.choice(run) for _ in range(length)))
    return out


def test_breakable_fast_path_equals_the_piecewise_definition() -> None:
    from pgaudit_roles.reports import html_text

    cases = _BREAK_CASES + _strings(17, 3000)
    fast = [s for s in cases if html_text._LONG_WORD.search(s) is None]
    assert len(fast) > 1000 and len(cases) - len(fast) > 100  # both paths are exercised
    for s in cases:
        assert html_text._breakable(s) == html_text._breakable_pieces(s), repr(s)


def test_inline_cache_returns_what_it_computes() -> None:
    from pgaudit_roles.reports import html_text

    for text in ["Run `pgaudit-roles bootstrap-sql`\n  as <b>x</b>", "odd `one", "", "a\u202eb"]:
        got = html_text.inline(text)
        assert isinstance(got, Markup)
        assert got == html_text.inline(text) == html_text._inline.__wrapped__(text)
    assert html_text.inline(None) == "" and html_text.inline(7) == "7"
