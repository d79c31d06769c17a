"""The README's lint recipes (GitHub Actions, GitLab CI) and the published pre-commit hook
run as written, on a copy of the lint case set as ``db/migrations`` in a fresh repository."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import install_for  # noqa: E402
from lint_support import CASES, DATA, PASSWORDS, ROOT  # noqa: E402

README = (ROOT / "README.md").read_text(encoding="utf-8")


def lint_section() -> str:
    start = README.index("### Lint migrations before they run")
    return README[start : README.index("\n## ", start)]


def recipe_commands() -> list[str]:
    """Every ``pgaudit-roles lint ...`` line of the section's yaml blocks."""
    blocks = re.findall(r"```yaml\n(.*?)```", lint_section(), re.S)
    cmds = [
        m.group(1).strip()
        for b in blocks
        for m in re.finditer(r"(?:run:|-)\s+(pgaudit-roles lint [^\n]+)", b)
    ]
    assert len(cmds) == 2, cmds
    return cmds


def artifact_paths() -> list[str]:
    text = lint_section()
    return re.findall(r"sarif_file: (\S+)", text) + re.findall(r"junit: (\S+)", text)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / ".git").mkdir()
    shutil.copytree(CASES, tmp_path / "db" / "migrations")
    shutil.copytree(DATA / "included", tmp_path / "db" / "included")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from pgaudit_roles.cli import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


def _check_artifacts(repo: Path) -> None:
    paths = artifact_paths()
    assert paths == ["lint/pgaudit-lint.sarif", "lint/pgaudit-lint.junit.xml"]
    sarif = repo / paths[0]
    if sarif.exists():
        doc = json.loads(sarif.read_text(encoding="utf-8"))
        uris = {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in doc["runs"][0]["results"]
        }
        assert "db/migrations/01_roles.sql" in uris  # relative to the repository root
        assert all(not u.startswith("/") for u in uris)


def test_readme_recipes_statement_layer(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    made = set()
    for cmd in recipe_commands():
        argv = shlex.split(cmd)[1:] + ["--no-twin"]
        code, out, err = _run(argv, capsys)
        assert code == 1, err
        assert "db/migrations/01_roles.sql:6:1: high PGR-LINT-001" in out
        made |= {p.relative_to(repo).as_posix() for p in (repo / "lint").iterdir()}
    assert set(artifact_paths()) <= made
    _check_artifacts(repo)


@pytest.mark.parametrize("major", [18], ids=["pg18"])
def test_readme_github_recipe_with_the_twin(
    major: int, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inst = install_for(major)
    argv = shlex.split(recipe_commands()[0])[1:] + ["--pg-bin", str(inst.bin_dir)]
    code, out, err = _run(argv, capsys)
    assert code == 1, err
    assert "db/migrations/07_errors.sql:2:1: high PGR-LINT-015" in out
    assert re.search(r"^::error file=db/migrations/01_roles.sql,line=6,col=1,", out, re.M)
    _check_artifacts(repo)
    for pw in PASSWORDS:
        assert pw not in out + err + (repo / "lint" / "pgaudit-lint.sarif").read_text()


def test_pre_commit_hooks_run_as_published(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    hooks = dict(re.findall(r"^- id: (\S+)\n(?:  .*\n)*?  entry: (.+)$", text, re.M))
    assert set(hooks) == {"pgaudit-roles-lint", "pgaudit-roles-lint-twin"}
    assert "--no-twin" in hooks["pgaudit-roles-lint"]
    files = ["db/migrations/05_rls.sql", "db/migrations/02_grants.sql"]  # as pre-commit passes them
    code, out, _err = _run(shlex.split(hooks["pgaudit-roles-lint"])[1:] + files, capsys)
    assert code == 1
    assert "db/migrations/05_rls.sql:5:1: medium PGR-LINT-014" in out
    assert "db/migrations/02_grants.sql:11:1: high PGR-LINT-012" in out
    clean = repo / "clean.sql"
    clean.write_text("CREATE ROLE db_reader_x NOLOGIN;\n", encoding="utf-8")
    code, out, _err = _run(shlex.split(hooks["pgaudit-roles-lint"])[1:] + ["clean.sql"], capsys)
    assert code == 0 and "0 findings" in out
