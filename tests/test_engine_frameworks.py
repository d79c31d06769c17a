"""Framework verdicts from rule results, and framework file validation (no server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pgaudit_roles.core.errors import RuleError, UsageError
from pgaudit_roles.core.model import Rule, RuleResult
from pgaudit_roles.evaluate import frameworks


def rule(rid: str, min_version: int = 130000) -> Rule:
    return Rule(
        id=rid,
        title="t",
        severity="high",
        category="roles",
        rationale="r",
        query="SELECT 1",
        message="m",
        min_server_version=min_version,
    )


def fw_file(tmp_path: Path, body: str, name: str = "mine") -> Path:
    p = tmp_path / f"{name}.toml"
    p.write_text(f'name = "{name}"\ntitle = "Mine"\n' + body, encoding="utf-8")
    return p


FW = """
[[requirement]]
id = "A"
title = "two rules"
rules = ["PGR-A-001", "PGR-B-001"]
[[requirement]]
id = "B"
title = "manual"
manual = "look at the firewall"
[[requirement]]
id = "C"
title = "new-version rule only"
rules = ["PGR-C-001"]
"""


@pytest.fixture
def three() -> list[Rule]:
    return [rule("PGR-A-001"), rule("PGR-B-001"), rule("PGR-C-001", 170000)]


def verdicts(
    tmp_path: Path, rules: list[Rule], statuses: dict[str, str], server: int | None = 160000
) -> dict[str, tuple[str, str | None]]:
    fw = frameworks.load_framework_file(fw_file(tmp_path, FW), rules)
    results = [
        RuleResult(rule=r, status=statuses[r.id], reason=f"why {r.id}")
        for r in rules
        if r.id in statuses
    ]
    return {q.id: (q.status, q.note) for q in frameworks.evaluate(fw, results, server)}


def test_fail_wins(tmp_path: Path, three: list[Rule]) -> None:
    v = verdicts(
        tmp_path, three, {"PGR-A-001": "fail", "PGR-B-001": "skipped", "PGR-C-001": "pass"}
    )
    assert v["A"][0] == "fail" and "PGR-A-001" in (v["A"][1] or "")
    assert v["B"] == ("manual", "look at the firewall")


def test_pass_needs_every_rule(tmp_path: Path, three: list[Rule]) -> None:
    v = verdicts(tmp_path, three, {"PGR-A-001": "pass", "PGR-B-001": "pass", "PGR-C-001": "pass"})
    assert v["A"] == ("pass", None)
    v = verdicts(
        tmp_path, three, {"PGR-A-001": "pass", "PGR-B-001": "skipped", "PGR-C-001": "pass"}
    )
    assert v["A"][0] == "skipped" and "why PGR-B-001" in (v["A"][1] or "")


def test_all_skipped_is_skipped_and_error_is_error(tmp_path: Path, three: list[Rule]) -> None:
    v = verdicts(
        tmp_path, three, {"PGR-A-001": "skipped", "PGR-B-001": "skipped", "PGR-C-001": "error"}
    )
    assert v["A"][0] == "skipped"
    assert v["C"][0] == "error"


def test_not_evaluated_is_not_pass(tmp_path: Path, three: list[Rule]) -> None:
    v = verdicts(tmp_path, three, {"PGR-A-001": "pass", "PGR-C-001": "pass"})
    assert v["A"][0] == "skipped" and "not evaluated: PGR-B-001" in (v["A"][1] or "")


def test_version_skip_is_not_applicable(tmp_path: Path, three: list[Rule]) -> None:
    v = verdicts(
        tmp_path,
        three,
        {"PGR-A-001": "pass", "PGR-B-001": "pass", "PGR-C-001": "skipped"},
        server=150000,
    )
    assert v["C"][0] == "skipped" and "server version" in (v["C"][1] or "")


def test_unknown_rule_is_a_load_error(tmp_path: Path) -> None:
    p = fw_file(tmp_path, FW)
    with pytest.raises(
        RuleError, match=r"mine\.toml: requirement 3 \(C\): unknown rule 'PGR-C-001'"
    ):
        frameworks.load_framework_file(p, [rule("PGR-A-001"), rule("PGR-B-001")])
    fw = frameworks.load_framework_file(p, [rule("PGR-A-001")], strict=False)
    assert fw.requirements[2].rules == ("PGR-C-001",)


def test_alias_in_mapping_resolves(tmp_path: Path) -> None:
    from dataclasses import replace

    renamed = replace(rule("PGR-NEW-001"), aliases=("PGR-A-001",))
    p = fw_file(tmp_path, '[[requirement]]\nid = "A"\ntitle = "t"\nrules = ["PGR-A-001"]\n')
    fw = frameworks.load_framework_file(p, [renamed])
    assert fw.requirements[0].rules == ("PGR-NEW-001",)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ('[[requirement]]\nid = "A"\ntitle = "t"\n', "map it to 'rules' or say why it is 'manual'"),
        ('[[requirement]]\nid = "A"\ntitle = "t"\nmanual = "x"\nfoo = 1\n', "unknown key 'foo'"),
        (
            '[[requirement]]\nid = "A"\ntitle = "t"\nmanual = "x"\n[[requirement]]\nid = "A"\ntitle = "u"\nmanual = "y"\n',
            "duplicate requirement id",
        ),
        ("", "missing required key 'requirement'"),
    ],
)
def test_bad_framework_file(tmp_path: Path, body: str, needle: str) -> None:
    with pytest.raises(RuleError, match=needle):
        frameworks.load_framework_file(fw_file(tmp_path, body), [])


def test_name_must_match_file(tmp_path: Path) -> None:
    p = tmp_path / "other.toml"
    p.write_text(
        'name = "mine"\ntitle = "t"\n[[requirement]]\nid = "A"\ntitle = "t"\nmanual = "x"\n'
    )
    with pytest.raises(RuleError, match="must equal the file name"):
        frameworks.load_framework_file(p, [])


def test_unknown_framework_name(builtin_rules: tuple) -> None:
    with pytest.raises(UsageError, match="unknown framework 'nope'.*golive"):
        frameworks.load_framework("nope", list(builtin_rules))
    with pytest.raises(UsageError, match="unknown framework"):
        frameworks.load_framework("../../etc/passwd", list(builtin_rules))
