"""A rule directory's loaded rules come from one user-cache entry while nothing changed
(pure logic, no server).

What must hold: the entry gives exactly the rules a load from the files gives; any change
that could change a load misses it (a rule file edited, replaced, added or removed, the
manifest, the package's code, the version); a file changed a moment ago is never
described by its stat data; a broken rule fails with the same one-line message, exit 2,
whatever the cache holds; a load with full validation never uses it.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import cli_process
from test_rules_loader import GOOD, write_rule

from pgaudit_roles.core import resources, usercache
from pgaudit_roles.core.errors import RuleError
from pgaudit_roles.evaluate import rule_dir_cache, validated_rules
from pgaudit_roles.evaluate import rules as rules_mod
from pgaudit_roles.evaluate.rules import load_dir, load_rules


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Files written by the test count as settled at once (no 2 s wait): the tests below
    change files by size, by inode, or after the clock moved on. The package's own state
    is asked again (a source file edited just before the run would otherwise leave this
    process with no state, and nothing kept), and again after the test."""
    monkeypatch.setattr(usercache, "RACY_NS", 0)
    usercache.code_state.cache_clear()
    yield
    usercache.code_state.cache_clear()


@pytest.fixture
def file_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The rule files loaded one by one (what an entry saves)."""
    seen: list[str] = []
    real = rules_mod.load_rule_file

    def counting(path: Path, *args: object, **kw: object) -> object:
        seen.append(path.name)
        return real(path, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(rules_mod, "load_rule_file", counting)
    return seen


def _entries(home: Path) -> list[Path]:
    d = home / "pgaudit-roles" / rule_dir_cache.SUBDIR
    return sorted(d.iterdir()) if d.is_dir() else []


def _user_dir(tmp_path: Path, n: int = 3) -> Path:
    d = tmp_path / "mine"
    d.mkdir()
    for i in range(1, n + 1):
        write_rule(d, f"ACME-ROLE-00{i}", text=GOOD.format(id=f"ACME-ROLE-00{i}"))
    return d


def _later() -> None:
    """Let the filesystem's clock move on (its timestamps have a resolution of a few ms)."""
    time.sleep(0.05)


# --- the built-in rules ------------------------------------------------------------------------


def test_builtin_rules_from_the_entry_equal_a_load_from_the_files(
    cache_home: Path, settled: None, file_loads: list[str]
) -> None:
    cold = load_rules()  # an empty cache: from the files
    assert len(file_loads) == len(cold) > 50 and len(_entries(cache_home)) == 1
    file_loads.clear()
    warm = load_rules()
    assert file_loads == []  # one entry, no file read one by one
    assert warm == cold
    assert [type(v) for r in warm for v in vars(r).values()] == [
        type(v) for r in cold for v in vars(r).values()
    ]
    assert warm[0] is not load_rules()[0]  # every load has rules of its own


def test_full_validation_never_uses_nor_writes_an_entry(
    tmp_path: Path, cache_home: Path, settled: None, file_loads: list[str]
) -> None:
    d = _user_dir(tmp_path, n=1)
    load_dir(d, full_validation=True)
    assert _entries(cache_home) == []
    _load_twice(d, file_loads)
    load_dir(d, full_validation=True)
    assert file_loads == ["ACME-ROLE-001.toml"]


def _builtin_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    rules = tmp_path / "rules"
    shutil.copytree(resources.rules_dir(), rules)
    monkeypatch.setattr(resources, "rules_dir", lambda: rules)
    validated_rules._manifest.cache_clear()
    return rules


def test_a_changed_manifest_misses_the_entry(
    tmp_path: Path,
    cache_home: Path,
    settled: None,
    file_loads: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rules = _builtin_copy(tmp_path, monkeypatch)
    first = load_rules()
    file_loads.clear()
    assert load_rules() == first and file_loads == []
    manifest = rules / validated_rules.MANIFEST_NAME
    manifest.write_text(manifest.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    validated_rules._manifest.cache_clear()
    assert load_rules() == first
    assert len(file_loads) == len(first)
    validated_rules._manifest.cache_clear()


def test_a_builtin_directory_the_manifest_does_not_vouch_for_is_not_kept(
    tmp_path: Path,
    cache_home: Path,
    settled: None,
    file_loads: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rules = _builtin_copy(tmp_path, monkeypatch)
    target = rules / "PGR-ROLE-001.toml"
    target.write_text(target.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    validations: list[str] = []
    real = rules_mod.validate_query

    def counting(sql: str, where: str, **kw: object) -> None:
        validations.append(where)
        real(sql, where, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(rules_mod, "validate_query", counting)
    first = load_rules()
    assert validations == [str(target)]  # not vouched for: validated
    assert _entries(cache_home) == []  # and so not kept: validated at every run
    file_loads.clear()
    assert load_rules() == first and len(file_loads) == len(first)
    validated_rules._manifest.cache_clear()


# --- what misses the entry ---------------------------------------------------------------------


def _load_twice(d: Path, file_loads: list[str]) -> list:
    first = load_dir(d)
    file_loads.clear()
    assert load_dir(d) == first and file_loads == [], "the second load should use the entry"
    return first


def test_an_edited_rule_file_misses_the_entry(
    tmp_path: Path, cache_home: Path, settled: None, file_loads: list[str]
) -> None:
    d = _user_dir(tmp_path)
    _load_twice(d, file_loads)
    path = d / "ACME-ROLE-002.toml"
    _later()
    # the same size, written in place (same inode): only the times tell
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('severity = "high"', 'severity = "low" '), encoding="utf-8")
    assert path.stat().st_size == len(text.encode())
    changed = load_dir(d)
    assert [r.severity for r in changed] == ["high", "low", "high"]
    assert file_loads == [p.name for p in sorted(d.glob("*.toml"))]


def test_a_replaced_rule_file_misses_the_entry(
    tmp_path: Path, cache_home: Path, settled: None, file_loads: list[str]
) -> None:
    d = _user_dir(tmp_path)
    first = _load_twice(d, file_loads)
    path = d / "ACME-ROLE-001.toml"
    st = path.stat()
    # another file renamed over it, with the old one's size and times (as cp -p could)
    other = tmp_path / "other.toml"
    text = path.read_text(encoding="utf-8").replace('severity = "high"', 'severity = "low" ')
    other.write_text(text, encoding="utf-8")
    os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(other, path)
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    assert load_dir(d)[0].severity == "low" != first[0].severity


def test_an_added_or_removed_rule_file_misses_the_entry(
    tmp_path: Path, cache_home: Path, settled: None, file_loads: list[str]
) -> None:
    d = _user_dir(tmp_path)
    _load_twice(d, file_loads)
    write_rule(d, "ACME-ROLE-009", text=GOOD.format(id="ACME-ROLE-009"))
    assert [r.id for r in load_dir(d)][-1] == "ACME-ROLE-009"
    _load_twice(d, file_loads)
    (d / "ACME-ROLE-002.toml").unlink()
    assert [r.id for r in load_dir(d)] == ["ACME-ROLE-001", "ACME-ROLE-003", "ACME-ROLE-009"]


def test_other_code_or_version_misses_the_entry(
    tmp_path: Path,
    cache_home: Path,
    settled: None,
    file_loads: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    d = _user_dir(tmp_path)
    first = _load_twice(d, file_loads)
    with monkeypatch.context() as m:
        m.setattr(usercache, "code_state", lambda: "a package file changed")
        assert load_dir(d) == first and len(file_loads) == 3
    _load_twice(d, file_loads)
    with monkeypatch.context() as m:
        m.setattr(rule_dir_cache, "__version__", "9.9.9")
        assert load_dir(d) == first and len(file_loads) == 3
    _load_twice(d, file_loads)
    with monkeypatch.context() as m:
        m.setattr(rule_dir_cache.sys, "version", "another Python")
        assert load_dir(d) == first and len(file_loads) == 3


def test_the_same_files_elsewhere_or_named_otherwise_miss_the_entry(
    tmp_path: Path,
    cache_home: Path,
    settled: None,
    file_loads: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    d = _user_dir(tmp_path)
    _load_twice(d, file_loads)
    monkeypatch.chdir(tmp_path)
    relative = load_dir(Path("mine"))  # a rule's path (and its errors) name the directory as given
    assert len(file_loads) == 3
    assert [r.path for r in relative] == [
        str(Path("mine") / f"ACME-ROLE-00{i}.toml") for i in (1, 2, 3)
    ]


def test_a_file_changed_during_the_load_misses_the_next_time(
    tmp_path: Path,
    cache_home: Path,
    settled: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    d = _user_dir(tmp_path, n=1)
    real = rules_mod.load_rule_file

    def edit_then_load(p: Path, *args: object, **kw: object) -> object:
        _later()
        p.write_text(
            p.read_text(encoding="utf-8").replace('severity = "high"', 'severity = "low" ')
        )
        return real(p, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(rules_mod, "load_rule_file", edit_then_load)
    assert load_dir(d)[0].severity == "low"
    monkeypatch.setattr(rules_mod, "load_rule_file", real)
    assert load_dir(d)[0].severity == "low"  # the entry (if any) was of the state before


# --- files changed a moment ago ----------------------------------------------------------------


def test_a_directory_changed_a_moment_ago_is_not_kept(
    tmp_path: Path, cache_home: Path, file_loads: list[str]
) -> None:
    d = _user_dir(tmp_path)  # just written: within usercache.RACY_NS
    load_dir(d)
    load_dir(d)
    assert len(file_loads) == 6 and _entries(cache_home) == []


def test_code_state_describes_the_package_by_stat_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub" / "__pycache__").mkdir(parents=True)
    (pkg / "a.py").write_text("A = 1\n")
    (pkg / "sub" / "q.sql").write_text("SELECT 1;\n")
    (pkg / "sub" / "__pycache__" / "a.cpython-311.py").write_text("ignored\n")
    (pkg / "notes.txt").write_text("ignored\n")
    monkeypatch.setattr(resources, "PACKAGE_DIR", pkg)
    state = usercache.code_state.__wrapped__  # not the process's memoized answer
    assert state() is None  # just written: racy
    monkeypatch.setattr(usercache, "RACY_NS", 0)
    first = state()
    assert first is not None
    assert [line.split("\0")[0] for line in first.splitlines()[1:]] == ["a.py", "sub/q.sql"]
    (pkg / "notes.txt").write_text("still ignored\n")
    assert state() == first
    _later()
    (pkg / "a.py").write_text("A = 2\n")  # same size, in place
    assert state() != first
    second = state()
    (pkg / "b.py").write_text("")
    assert state() != second
    future = time.time_ns() + 60 * 10**9
    os.utime(pkg / "b.py", ns=(future, future))
    assert state() is None  # a time ahead of the clock is not trusted


def test_the_code_fingerprint_follows_the_state_or_else_the_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fingerprint = usercache.code_fingerprint.__wrapped__  # not the process's memoized answer
    seen = set()
    for state in ("one state", "another state", None, None):
        monkeypatch.setattr(usercache, "code_state", lambda state=state: state)
        seen.add(fingerprint())
    assert len(seen) == 3  # the bytes' fingerprint is stable, and not a state's


# --- errors ----------------------------------------------------------------------------------


def test_a_broken_rule_gives_the_same_error_whatever_the_cache_holds(
    tmp_path: Path, cache_home: Path, settled: None, file_loads: list[str]
) -> None:
    d = _user_dir(tmp_path)
    _load_twice(d, file_loads)
    path = d / "ACME-ROLE-002.toml"
    path.write_text(
        GOOD.format(id="ACME-ROLE-002").replace("WHERE superuser", "WHERE no_such_column")
    )
    with pytest.raises(RuleError) as warm:
        load_dir(d)
    assert _entries(cache_home)  # the good load's entry is still there
    with pytest.raises(RuleError) as again:
        load_dir(d)
    shutil.rmtree(cache_home)
    with pytest.raises(RuleError) as cold:
        load_dir(d)
    assert str(warm.value) == str(again.value) == str(cold.value)
    assert "ACME-ROLE-002.toml" in str(cold.value) and "no_such_column" in str(cold.value)


def test_cli_broken_user_rule_after_a_kept_good_one(
    tmp_path: Path, cache_home: Path, settled: None
) -> None:
    d = _user_dir(tmp_path)
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home)}
    args = ["rules", "list", "--rules-dir", str(d)]
    assert cli_process(args, env=env).returncode == 0
    assert cli_process(args, env=env).returncode == 0
    assert any(p.name.startswith("user-") for p in _entries(cache_home))
    (d / "ACME-ROLE-003.toml").write_text(
        GOOD.format(id="ACME-ROLE-003").replace("WHERE superuser", "WHERE no_such_column")
    )
    warm = cli_process(args, env=env)
    cold = cli_process(args, env={**env, "XDG_CACHE_HOME": str(tmp_path / "empty")})
    assert warm.returncode == cold.returncode == 2
    assert warm.stderr == cold.stderr
    assert warm.stderr.startswith("pgaudit-roles: error: ") and "no_such_column" in warm.stderr
    assert len(warm.stderr.strip().splitlines()) == 1


def test_a_damaged_entry_is_a_miss(
    tmp_path: Path, cache_home: Path, settled: None, file_loads: list[str]
) -> None:
    d = _user_dir(tmp_path)
    first = _load_twice(d, file_loads)
    for junk in (b"", b"\x00junk", b"\xe9" * 100):
        for entry in _entries(cache_home):
            entry.write_bytes(junk)
        file_loads.clear()
        assert load_dir(d) == first and len(file_loads) == 3
