"""The templates of a rule phase come from one cache entry and render what they rendered.

Why: an evaluation's rule phase is a ``template_cache.session``: the compiled message and
remediation templates it uses are read from one entry of the user's cache (the set)
instead of one file each. What must hold: findings, messages, fixes and rule errors are
the same with no set, with a set being built, with a full set and with a damaged one; a
template refused by the remediation safety analysis never enters the set; a cache that
cannot be written changes nothing. Pure logic: no server (rules over an empty snapshot
whose queries return their own rows).
"""

from __future__ import annotations

import marshal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pgaudit_roles.collect.snapshot import Snapshot
from pgaudit_roles.core.errors import RuleError
from pgaudit_roles.core.model import Rule
from pgaudit_roles.evaluate import messages, remediation, template_cache, template_preload
from pgaudit_roles.evaluate.engine import evaluate

ROWS = """SELECT * FROM (VALUES
    ('app', 't1', 'reader', 1, false),
    ('app', 'Odd "name"', 'wr"iter', 2, true),
    ('other', 't3', 'PUBLIC', 3, false),
    ('app', 'naïve', 'x', 4, true)
) AS v(schema, object_name, role, n, flag)"""


def _rule(rid: str, message: str, remediation_sql: str | None, **kw: Any) -> Rule:
    return Rule(
        id=rid,
        title="t",
        severity="high",
        category="roles",
        rationale="r",
        query=ROWS,
        message=message,
        remediation=remediation_sql,
        manual=None if remediation_sql else "by hand",
        path=f"{rid}.toml",
        **kw,
    )


RULES = [
    _rule(
        "PGR-TEST-001",
        "{{ role }} holds {{ object_name }} ({{ n }})",
        "REVOKE ALL ON TABLE {{ schema|qualified(object_name) }} FROM {{ role|role }};",
    ),
    _rule(  # two statements, and none for some rows
        "PGR-TEST-002",
        "{% if flag %}flagged {% endif %}{{ schema }}.{{ object_name }}",
        "{% if flag %}GRANT SELECT ON TABLE {{ object_name|ident }} TO {{ role|role }};\n"
        "ALTER TABLE {{ object_name|ident }} OWNER TO {{ role|role }};{% endif %}",
    ),
    _rule(  # one row's fix is refused by the check: the rule is an error, the rest kept
        "PGR-TEST-003",
        "{{ object_name }} #{{ n }}",
        "{% if n == 3 %}DROP TABLE {{ object_name|ident }} CASCADE;"
        "{% else %}REVOKE ALL ON TABLE {{ object_name|ident }} FROM {{ role|role }};{% endif %}",
    ),
    _rule("PGR-TEST-004", "manual for {{ role }}", None),
]


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """XDG_CACHE_HOME in a temporary directory, and the process's template caches empty
    before and after (each evaluation below is a new run)."""
    home = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    _new_process()
    yield home
    _new_process()


def _new_process() -> None:
    messages._compiled.cache_clear()
    remediation._analyse.cache_clear()
    template_cache._FLAT_GLOBALS.clear()


def _set_files(home: Path) -> list[Path]:
    d = home / "pgaudit-roles" / template_cache.SET_SUBDIR
    return sorted(d.iterdir()) if d.exists() else []


def _single_entries(home: Path) -> list[Path]:
    d = home / "pgaudit-roles" / template_cache.SUBDIR
    return sorted(d.iterdir()) if d.exists() else []


def _results() -> list[tuple[Any, ...]]:
    _new_process()
    result = evaluate(Snapshot(meta={}, cluster={}, databases=[]), RULES, inventory=False)
    return [
        (
            r.rule.id,
            r.status,
            r.reason,
            [
                (f.message, f.remediation, f.manual, f.object_name, f.role, f.fingerprint)
                for f in r.findings
            ],
        )
        for r in result.results
    ]


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every template compiled by the message and remediation environments."""
    seen: list[object] = []
    for env in (messages.template_env(), remediation._environment()):
        real = env.compile

        def counting(src: object, *a: object, _real: Any = real, **kw: object) -> object:
            seen.append(src)
            return _real(src, *a, **kw)

        monkeypatch.setattr(env, "compile", counting)
    return seen


def test_the_corpus_reaches_every_outcome(cache_home: Path) -> None:
    results = {rid: (status, reason, f) for rid, status, reason, f in _results()}
    assert results["PGR-TEST-001"][0] == "fail" and len(results["PGR-TEST-001"][2]) == 4
    assert results["PGR-TEST-003"][0] == "error"
    assert "CASCADE is not allowed" in results["PGR-TEST-003"][1]
    fixes = [f[1] for f in results["PGR-TEST-002"][2]]
    assert None in fixes and any(f and f.count(";") == 2 for f in fixes)
    assert all(f[1] is None and f[2] == "by hand" for f in results["PGR-TEST-004"][2])


def test_results_are_the_same_without_with_and_from_the_set(
    cache_home: Path, compiles: list[object]
) -> None:
    with pytest.MonkeyPatch.context() as mp:  # the old path: one entry per template
        mp.setattr(template_cache, "session", _no_session)
        expected = _results()
    assert _set_files(cache_home) == [] and len(compiles) == 7
    assert _results() == expected  # the set is built from the single entries
    assert len(compiles) == 7 and len(_set_files(cache_home)) == 1
    for entry in _single_entries(cache_home):
        entry.unlink()  # what the next run reads comes from the set alone
    assert _results() == expected
    assert len(compiles) == 7 and _single_entries(cache_home) == []
    (stored,) = _set_files(cache_home)
    assert len(template_cache._read_set()) == 7 and stored.stat().st_size > 0


def _no_session() -> Any:
    import contextlib

    return contextlib.nullcontext()


@pytest.mark.parametrize(
    "junk",
    [
        b"",
        b"\x00garbage",
        marshal.dumps(42),
        marshal.dumps({("message", "x"): "not bytes", "key": b""}),
        "all-entries-junk",
        "all-entries-text",
    ],
)
def test_a_damaged_set_is_a_miss(cache_home: Path, compiles: list[object], junk: Any) -> None:
    expected = _results()
    (stored,) = _set_files(cache_home)
    if isinstance(junk, str):  # the right keys, each entry not a code object
        value: Any = b"\x00junk" if junk == "all-entries-junk" else "text"
        junk = marshal.dumps({k: value for k in template_cache._read_set()})
    stored.write_bytes(junk)
    assert _results() == expected
    for entry in _single_entries(cache_home):
        entry.unlink()
    compiled = len(compiles)
    assert _results() == expected  # the set was stored again, whole
    assert len(compiles) == compiled == 7


def test_a_refused_remediation_never_enters_the_set(cache_home: Path) -> None:
    unsafe = "ALTER ROLE {{ role }} NOSUPERUSER;"
    safe = "ALTER ROLE {{ role|role }} NOSUPERUSER;"
    for _ in range(2):
        _new_process()
        with template_cache.session():
            with pytest.raises(RuleError, match="without a quoting filter"):
                remediation.validate_template(unsafe, "r.toml")
            assert remediation.render(safe, {"role": 'x"; DROP'}, "r.toml") == (
                'ALTER ROLE "x""; DROP" NOSUPERUSER;'
            )
    assert set(template_cache._read_set()) == {("remediation", safe)}


def test_the_set_is_bounded(cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(template_cache, "SET_LIMIT", 3)
    sources = [f"Role {{{{ role }}}} #{i}" for i in range(5)]
    for i, source in enumerate(sources):  # one run per template: the set grows to the limit
        _new_process()
        with template_cache.session():
            assert messages.render_message(source, {"role": "r"}) == f"Role r #{i}"
    kept = template_cache._read_set()
    assert len(kept) <= 3 and ("message", sources[-1]) in kept
    _new_process()
    with template_cache.session():  # a run that uses one kept template keeps it
        messages.render_message(sources[-1], {"role": "r"})
        messages.render_message("new {{ role }}", {"role": "r"})
    assert ("message", "new {{ role }}") in template_cache._read_set()


def test_an_unwritable_cache_changes_nothing(
    cache_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _results()
    blocker = tmp_path / "file"
    blocker.write_text("not a directory", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert _results() == expected


def test_a_nested_session_is_part_of_the_outer_one(cache_home: Path) -> None:
    with template_cache.session():
        with template_cache.session():
            messages.render_message("inner {{ x }}", {"x": 1})
        assert _set_files(cache_home) == []  # stored when the outer one ends
        messages.render_message("outer {{ x }}", {"x": 1})
    assert set(template_cache._read_set()) == {
        ("message", "inner {{ x }}"),
        ("message", "outer {{ x }}"),
    }
    assert template_cache._session is None


def test_the_same_text_of_each_kind_is_its_own_entry(cache_home: Path) -> None:
    """The environments compile differently (the remediation one keeps a trailing
    newline): each kind's template comes back as its own environment compiled it."""
    source = "GRANT a TO b;\n"
    envs = {"message": messages.template_env(), "remediation": remediation._environment()}
    expected = {kind: env.from_string(source).render() for kind, env in envs.items()}
    assert expected["message"] != expected["remediation"]
    for _ in range(2):  # built, then read from the set
        with template_cache.session():
            got = {
                kind: template_cache.cached(env, kind, source).render()
                for kind, env in envs.items()
            }
        assert got == expected
    assert set(template_cache._read_set()) == {("message", source), ("remediation", source)}


def test_preload_loads_the_set_before_the_rule_phase(
    cache_home: Path, compiles: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After ``preload`` (a live scan runs it while its child collects) the rule phase
    reads nothing and compiles nothing, and finds the same."""
    expected = _results()  # builds the set
    assert len(compiles) == 7
    _new_process()
    template_preload.preload()
    assert messages._compiled.cache_info().currsize == 4
    assert remediation._analyse.cache_info().currsize == 3
    reads: list[str] = []
    real_read = template_cache.read

    def counting(subdir: str, name: str) -> bytes | None:
        reads.append(subdir)
        return real_read(subdir, name)

    monkeypatch.setattr(template_cache, "read", counting)
    result = evaluate(Snapshot(meta={}, cluster={}, databases=[]), RULES, inventory=False)
    got = [
        (
            r.rule.id,
            r.status,
            r.reason,
            [
                (f.message, f.remediation, f.manual, f.object_name, f.role, f.fingerprint)
                for f in r.findings
            ],
        )
        for r in result.results
    ]
    assert got == expected and reads == [] and len(compiles) == 7


def test_preload_without_a_set_or_cache_changes_nothing(
    cache_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    template_preload.preload()  # no set yet: nothing loaded, nothing stored
    assert messages._compiled.cache_info().currsize == 0 and _set_files(cache_home) == []
    expected = _results()
    blocker = tmp_path / "file"
    blocker.write_text("not a directory", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    _new_process()
    template_preload.preload()
    assert _results() == expected
