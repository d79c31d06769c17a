"""The built wheel ships the rules, templates and schema, and works from a fresh venv."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    (whl,) = out.glob("pgaudit_roles-*.whl")
    return whl


def test_wheel_contains_data_files(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    rules = sorted(p.name for p in (ROOT / "rules").glob("*.toml"))
    assert rules, "no rule files in the checkout"
    for name in rules:
        assert f"pgaudit_roles/_data/rules/{name}" in names
    for fw in (ROOT / "rules" / "frameworks").glob("*.toml"):
        assert f"pgaudit_roles/_data/rules/frameworks/{fw.name}" in names
    for tpl in (ROOT / "reports" / "templates").iterdir():
        if tpl.is_file() and not tpl.name.startswith("."):
            assert f"pgaudit_roles/_data/templates/{tpl.name}" in names
    assert "pgaudit_roles/schemas/report.schema.json" in names
    assert "pgaudit_roles/demo/layout.sql" in names
    # the SQL the code runs (catalog queries, audit-schema loader, twin) lives in .sql files
    # next to it: every one of them ships
    sql_files = sorted((ROOT / "pgaudit_roles").rglob("*.sql"))
    assert len(sql_files) >= 25
    for path in sql_files:
        assert path.relative_to(ROOT).as_posix() in names, path


@pytest.mark.slow
@pytest.mark.pg  # the demo starts a server
def test_fresh_venv_runs_rules_list_and_demo(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", f"{wheel}[demo]"],
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
    )
    exe = env_dir / "bin" / "pgaudit-roles"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    # run from an empty directory so nothing from the checkout can be picked up
    work = tmp_path / "work"
    work.mkdir()
    listed = subprocess.run(
        [str(exe), "rules", "list"], cwd=work, env=env, capture_output=True, text=True, timeout=120
    )
    assert listed.returncode == 0, listed.stderr
    shipped = [
        Path(n).stem
        for n in zipfile.ZipFile(wheel).namelist()
        if n.startswith("pgaudit_roles/_data/rules/PGR-")
    ]
    assert shipped
    for rule_id in shipped:
        assert rule_id in listed.stdout
    demo = subprocess.run(
        [str(exe), "demo", "--output-dir", str(work / "out")],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert demo.returncode in (0, 1), demo.stderr
    html = work / "out" / "pgaudit-report.html"
    assert html.exists() and "pgaudit-report.html" in demo.stdout
    assert (work / "out" / "pgaudit-report.sarif").exists()
