"""``pgaudit-roles rules new``: scaffold a rule into a temporary copy of the checkout, fill it
in, load it, regenerate the docs; and every refusal (one line, exit 2, nothing written).

Pure logic, but for the last test: the filled rule's cases on a real server, 13-18.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from cli_support import run_cli

from pgaudit_roles import docgen, rule_scaffold
from pgaudit_roles.collect.snapshot import Snapshot
from pgaudit_roles.core.errors import UsageError
from pgaudit_roles.evaluate import frameworks
from pgaudit_roles.evaluate.engine import evaluate
from pgaudit_roles.evaluate.rules import load_dir, load_rule_file

sys.path.insert(0, str(Path(__file__).resolve().parent / "rules"))
from caseload import load_case_file  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RID = "PGR-ROLE-917"
TODO = rule_scaffold.TODO


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The parts of the checkout that `rules new` and the docs read, copied once."""
    root = tmp_path_factory.mktemp("checkout") / "repo"
    root.mkdir()
    shutil.copy(ROOT / "README.md", root / "README.md")
    shutil.copytree(ROOT / "docs", root / "docs")
    shutil.copytree(ROOT / "rules", root / "rules")
    shutil.copytree(ROOT / "tests" / "rules" / "cases", root / "tests" / "rules" / "cases")
    shutil.copytree(ROOT / "tests" / "data" / "lint", root / "tests" / "data" / "lint")
    return root


@pytest.fixture
def checkout(pristine: Path, tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(pristine, root)
    return root


def tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` with a hash of its content."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


FILLED_QUERY = """
SELECT r.name AS role, 'role' AS object_type, r.name AS object_name,
       r.name AS object_identity
FROM roles r
WHERE r.login AND starts_with(r.name, 'tmp_')
"""


def fill(root: Path) -> None:
    """What an author does after `rules new`: every TODO replaced, the draft flag removed."""
    rule = root / "rules" / f"{RID}.toml"
    text = rule.read_text(encoding="utf-8")
    text = re.sub(r"^# .*\n", "", text, flags=re.M)
    text = text.replace(
        "draft = true  # a draft is never evaluated (skipped) and the "
        "meta-tests refuse to ship one\n",
        "",
    )
    text = text.replace(
        f'title = "{TODO}: the secure condition this rule checks"',
        'title = "Temporary login roles are not left behind"',
    )
    text = re.sub(
        r'rationale = """.*?"""', 'rationale = "A tmp_ login outlives its task."', text, flags=re.S
    )
    text = text.replace(
        f"{TODO}: guide section: the sentence this rule enforces",
        "Best practices: Principle of Least Privilege",
    )
    text = re.sub(r"requires = \[\].*", 'requires = ["roles"]', text)
    text = re.sub(r'query = """.*?"""', f'query = """{FILLED_QUERY}"""', text, flags=re.S)
    text = re.sub(
        r'message = """.*?"""', 'message = "Temporary login role {{ role }}."', text, flags=re.S
    )
    text = re.sub(
        r'manual = """.*?"""', 'manual = "Drop the role when its task is done."', text, flags=re.S
    )
    assert TODO not in text and "draft" not in text
    rule.write_text(text, encoding="utf-8")
    cases = root / "tests" / "rules" / "cases" / f"{RID}.toml"
    text = cases.read_text(encoding="utf-8")
    text = text.replace(f"{TODO}: a layout that breaks the rule", "a tmp_ login role")
    text = text.replace(f"{TODO}: the guide's layout, which keeps it", "a tmp_ group role")
    text = text.replace("app_{p}", "tmp_{p}")
    cases.write_text(text, encoding="utf-8")
    for fw in (root / "rules" / "frameworks").glob("*.toml"):
        text = fw.read_text(encoding="utf-8")
        text = re.sub(rf"\n# {re.escape(TODO)} {RID}:.*\n# .*\n", "", text)
        fw.write_text(text, encoding="utf-8")


def test_scaffold_fill_load_and_regenerate_docs(checkout: Path, capsys: Any) -> None:
    before = tree(checkout)
    code, out, err = run_cli(
        ["rules", "new", RID, "--severity", "low", "--root", str(checkout)], capsys
    )
    assert code == 0, err
    assert out.splitlines()[:7] == [
        f"wrote rules/{RID}.toml",
        f"wrote tests/rules/cases/{RID}.toml",
        "wrote rules/frameworks/cis.toml",
        "wrote rules/frameworks/golive.toml",
        "wrote README.md",
        "wrote docs/rules.md",
        "wrote rules/validated.json",
    ]
    after = tree(checkout)
    changed = {k for k in after if before.get(k) != after[k]}
    assert changed == {
        f"rules/{RID}.toml",
        f"tests/rules/cases/{RID}.toml",
        "README.md",
        "docs/rules.md",
        "rules/frameworks/cis.toml",
        "rules/frameworks/golive.toml",
        "rules/validated.json",
    }

    # the draft loads (the author iterates with the real loader) and is never evaluated
    draft = load_rule_file(checkout / "rules" / f"{RID}.toml", origin="builtin")
    assert draft.draft and draft.category == "roles" and draft.severity == "low"
    result = evaluate(Snapshot(meta={}, cluster={}, databases=[]), [draft])
    assert result.results[0].status == "skipped" and "draft" in (result.results[0].reason or "")
    cases = load_case_file(checkout / "tests" / "rules" / "cases" / f"{RID}.toml")
    assert [c.expect for c in cases] == ["fail", "pass"]
    rules = load_dir(checkout / "rules", origin="builtin")
    for name in ("cis", "golive"):
        fw = frameworks.load_framework(name, rules, checkout / "rules" / "frameworks")
        assert RID not in fw.rule_ids()  # a stub is a comment until the author maps it
        assert (
            f"# {TODO} {RID}:" in (checkout / "rules" / "frameworks" / f"{name}.toml").read_text()
        )
    doc = (checkout / "docs" / "rules.md").read_text(encoding="utf-8")
    assert f'<a id="{RID.lower()}"></a>' in doc and "**draft**" in doc
    assert docgen.stale(checkout) == []

    fill(checkout)
    rule = load_rule_file(checkout / "rules" / f"{RID}.toml", origin="builtin")
    assert not rule.draft and rule.title == "Temporary login roles are not left behind"
    assert docgen.stale(checkout) == [
        checkout / "README.md",
        checkout / "docs" / "rules.md",
        checkout / "rules" / "validated.json",
    ]
    assert docgen.main(["--root", str(checkout)]) == 0
    assert docgen.main(["--check", "--root", str(checkout)]) == 0
    section = (
        (checkout / "docs" / "rules.md")
        .read_text(encoding="utf-8")
        .split(f'<a id="{RID.lower()}"></a>')[1]
        .split("<a id=")[0]
    )
    assert "## PGR-ROLE-917: Temporary login roles are not left behind" in section
    assert "**draft**" not in section and TODO not in section
    anti = section.split("### Anti-pattern")[1].split("### Best practice")[0]
    best = section.split("### Best practice")[1]
    assert "CREATE ROLE tmp_demo LOGIN;" in anti and "CREATE ROLE tmp_demo NOLOGIN;" in best
    readme = (checkout / "README.md").read_text(encoding="utf-8")
    assert f"| [{RID}](docs/rules.md#{RID.lower()}) | low | roles | Temporary login" in readme
    assert not list(checkout.rglob(".*.tmp"))


@pytest.mark.parametrize(
    "kind,category", [("hba", "hba"), ("settings", "settings"), ("objects", "ownership")]
)
def test_other_categories_get_their_case_shape(checkout: Path, kind: str, category: str) -> None:
    made = rule_scaffold.new_rule("PGR-XTRA-001", checkout, category=category)
    rule = load_rule_file(made.rule, origin="builtin")
    assert rule.category == category and rule.draft
    cases = load_case_file(made.cases)
    fail = cases[0]
    if kind == "hba":
        assert fail.hba and rule.object_type == "hba_rule"
    elif kind == "settings":
        assert fail.settings and rule.object_type == "setting"
    else:
        assert fail.cluster_setup and rule.object_type == "object"


@pytest.mark.parametrize(
    "args,message",
    [
        (["PGR-ROLE-01"], "rule id 'PGR-ROLE-01' is malformed"),
        (["PGR-ROLE-0001"], "is malformed"),
        (["ROLE-001"], "is malformed"),
        (["../PGR-ROLE-001"], "is malformed"),
        (["PGR-ROLE-001\n"], None),  # stripped: then it exists
        (["PGR-ROLE-001"], "rule PGR-ROLE-001 already exists"),
        (["pgr-role-002"], "rule PGR-ROLE-002 already exists"),
        (["PGR-ZZZ-001"], "no rule uses 'ZZZ' yet, so its category is unknown: give --category"),
        (["PGR-LINT-099"], "statement rules (category migrations) need a check"),
    ],
)
def test_refusals_are_one_line_and_write_nothing(
    checkout: Path, capsys: Any, args: list[str], message: str | None
) -> None:
    before = tree(checkout)
    code, out, err = run_cli(["rules", "new", *args, "--root", str(checkout)], capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert message is None or message in err, err
    assert tree(checkout) == before


def test_refuses_a_former_id_and_a_leftover_case_file(checkout: Path) -> None:
    rule = checkout / "rules" / "PGR-ROLE-001.toml"
    rule.write_text(
        rule.read_text(encoding="utf-8").replace(
            'id = "PGR-ROLE-001"', 'id = "PGR-ROLE-001"\naliases = ["PGR-ROLE-918"]'
        ),
        encoding="utf-8",
    )
    (checkout / "tests" / "rules" / "cases" / "PGR-ROLE-919.toml").write_text("x", encoding="utf-8")
    before = tree(checkout)
    with pytest.raises(UsageError, match="PGR-ROLE-918 is a former id of PGR-ROLE-001"):
        rule_scaffold.new_rule("PGR-ROLE-918", checkout)
    with pytest.raises(UsageError, match="PGR-ROLE-919.toml: already exists"):
        rule_scaffold.new_rule("PGR-ROLE-919", checkout)
    assert tree(checkout) == before


def test_refuses_outside_a_checkout(tmp_path: Path, capsys: Any) -> None:
    code, _out, err = run_cli(["rules", "new", RID, "--root", str(tmp_path)], capsys)
    assert code == 2 and "not a pgaudit-roles source checkout" in err
    assert list(tmp_path.iterdir()) == []


def test_a_failure_after_some_writes_leaves_the_checkout_as_it_was(
    checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = tree(checkout)

    real = docgen.write

    def broken(root: Path) -> list[Path]:
        real(root)  # the docs were written, then something failed
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(docgen, "write", broken)
    with pytest.raises(OSError, match="No space left"):
        rule_scaffold.new_rule(RID, checkout)
    assert tree(checkout) == before


@pytest.fixture(scope="module")
def filled(pristine: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkout copy with the rule scaffolded and filled in (once for every version)."""
    root = tmp_path_factory.mktemp("filled") / "repo"
    shutil.copytree(pristine, root)
    rule_scaffold.new_rule(RID, root, severity="low")
    fill(root)
    return root


def test_filled_rule_cases_fail_and_pass_on_a_real_server(pg: Any, filled: Path) -> None:
    """The scaffolded case file, once filled, is what the case runner needs: its fail case
    gives the finding it names and its pass case none (the runner's own steps: a database,
    the {p} prefix, the real collector, the rule)."""
    from pgaudit_roles.collect.collector import collect
    from pgaudit_roles.config import Config

    rule = load_rule_file(filled / "rules" / f"{RID}.toml", origin="builtin")
    cases = load_case_file(filled / "tests" / "rules" / "cases" / f"{RID}.toml")
    for case in cases:
        prefix = pg.unique("rn") + "z"
        db = pg.create_database(f"{prefix}_db")
        try:
            pg.execute(case.cluster_setup.replace("{p}", prefix))
            snapshot = collect(pg.conninfo(dbname=db), databases=[db])
            rr = evaluate(snapshot, [rule], Config()).results[0]
            mine = [f for f in rr.findings if prefix in (f.role or "")]
            if case.expect == "fail":
                want = case.match["role"].replace("{p}", prefix)
                assert [f.role for f in mine] == [want], case.name
                assert f"Temporary login role {want}." == mine[0].message
            else:
                assert rr.status in ("pass", "fail") and mine == [], case.name
        finally:
            pg.drop_database(db)
            pg.execute(f'DROP ROLE IF EXISTS "tmp_{prefix}"')
