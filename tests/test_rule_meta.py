"""Meta-tests over the shipped rule catalogue, its test cases and framework mappings."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import pytest

from pgaudit_roles import docgen, rule_examples, rule_scaffold
from pgaudit_roles.core import resources
from pgaudit_roles.evaluate import frameworks
from pgaudit_roles.evaluate.rules import RULE_ID_RE
from pgaudit_roles.rule_docs import (
    README_END,
    README_START,
    render_readme_section,
    replace_readme_section,
)

sys.path.insert(0, str(Path(__file__).resolve().parent / "rules"))
from caseload import CASES_DIR, load_case_file  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RULE_FILES = sorted(resources.rules_dir().glob("*.toml"))
SNAPSHOT_RULE_FILES = [p for p in RULE_FILES if not p.stem.startswith("PGR-LINT-")]
"""Statement rules (PGR-LINT) have their fail and pass cases as markers in the lint
migration set (tests/data/lint, checked by tests/test_lint_statements.py)."""


def test_catalogue_is_not_empty() -> None:
    assert len(RULE_FILES) >= 4


def test_ids_unique_and_file_name_is_id(builtin_rules: tuple) -> None:
    files = sorted(resources.rules_dir().glob("*.toml"))
    rules = list(builtin_rules)
    assert len({r.id for r in rules}) == len(rules) == len(files)
    for r in rules:
        assert Path(r.path).stem == r.id
        assert RULE_ID_RE.match(r.id)
    names = [n for r in rules for n in (r.id, *r.aliases)]
    assert len(names) == len(set(names)), "an id or alias is used twice"


@pytest.mark.parametrize("path", SNAPSHOT_RULE_FILES, ids=[p.stem for p in SNAPSHOT_RULE_FILES])
def test_every_rule_has_pass_and_fail_cases(path: Path) -> None:
    cases_file = CASES_DIR / f"{path.stem}.toml"
    assert cases_file.is_file(), f"{path.stem}: no test cases at {cases_file}"
    cases = load_case_file(cases_file)
    expects = {c.expect for c in cases}
    assert expects == {"pass", "fail"}, f"{cases_file}: needs at least one pass and one fail case"
    # a fail case that runs on every version, so no version is left without a failing test
    assert any(
        c.expect == "fail" and c.min_version is None and c.max_version is None for c in cases
    ) or _versions_covered(cases), f"{cases_file}: fail cases miss a version"


def _versions_covered(cases: list) -> bool:
    return all(any(c.expect == "fail" and c.applies_to(v) for c in cases) for v in range(13, 19))


def test_no_draft_or_placeholder_ships(builtin_rules: tuple) -> None:
    """`pgaudit-roles rules new` writes drafts full of TODO(rules new): none may land."""
    drafts = [r.id for r in builtin_rules if r.draft]
    assert not drafts, (
        f"{', '.join(drafts)}: still a draft: finish it (every "
        f"{rule_scaffold.TODO}) and delete `draft = true`"
    )
    for path in [
        *RULE_FILES,
        *sorted(resources.frameworks_dir().glob("*.toml")),
        *sorted(CASES_DIR.glob("*.toml")),
    ]:
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            assert rule_scaffold.TODO not in line, f"{path}:{no}: placeholder left: {line.strip()}"


def test_every_case_file_names_a_rule(builtin_rules: tuple) -> None:
    ids = {r.id for r in builtin_rules}
    for path in sorted(CASES_DIR.glob("*.toml")):
        assert path.stem in ids, f"{path}: no rule {path.stem}"
        load_case_file(path)  # parses and validates


def test_guide_references_name_a_guide_section(builtin_rules: tuple) -> None:
    guide = ROOT.parent / "shared" / "seeds" / "000_665d17aafe9851be.txt"
    text = guide.read_text(encoding="utf-8") if guide.is_file() else None
    for r in builtin_rules:
        for ref in r.references:
            if ref.kind != "guide":
                continue
            section = ref.text.split(":")[0].strip()
            assert section, f"{r.id}: guide reference without a section"
            if text is not None:
                assert section in text, f"{r.id}: guide section {section!r} not in the guide"


@pytest.mark.parametrize("name", frameworks.available())
def test_framework_mappings_name_known_rules(name: str, builtin_rules: tuple) -> None:
    fw = frameworks.load_framework(name, list(builtin_rules))  # strict: unknown rule -> RuleError
    assert fw.requirements
    for req in fw.requirements:
        assert req.rules or req.manual, f"{name} {req.id}: neither rules nor manual"


def test_shipped_frameworks(builtin_rules: tuple) -> None:
    assert {"golive", "cis"} <= set(frameworks.available())
    cis = frameworks.load_framework("cis", list(builtin_rules))
    ids = [r.id for r in cis.requirements]
    assert ids == [
        "4.1",
        "4.2",
        "4.3",
        "4.4",
        "4.5",
        "4.6",
        "4.7",
        "4.8",
        "4.9",
        "5.1",
        "5.2",
        "5.3",
        "5.4",
        "5.5",
        "5.6",
    ]
    golive = frameworks.load_framework("golive", list(builtin_rules))
    guide_items = 6
    assert len([r for r in golive.requirements if r.id.startswith("GL-")]) >= guide_items


def test_docs_rules_md_is_current() -> None:
    current = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert current == docgen.render_rules_doc(ROOT), (
        "docs/rules.md is stale: run `python -m pgaudit_roles.docgen`"
    )


def _doc_sections(doc: str) -> dict[str, str]:
    """docs/rules.md cut into one piece of text per rule (from its anchor to the next)."""
    parts = re.split(r'^<a id="([a-z0-9-]+)"></a>$', doc, flags=re.M)
    return {parts[i].upper(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def _examples(section: str, heading: str) -> str:
    """The text under ``### heading`` up to the next heading or the query."""
    m = re.search(
        rf"^### {heading}\n(.*?)(?=^### |^<details>|^\*\*References|\Z)", section, re.M | re.S
    )
    return m.group(1) if m else ""


def test_every_rule_doc_shows_an_anti_pattern_and_a_best_practice(builtin_rules: tuple) -> None:
    """sqlfluff's rule-doc contract: each rule shows one failing and one passing example, and
    each has a non-empty fenced block (SQL, pg_hba lines, settings, or a migration)."""
    sections = _doc_sections((ROOT / "docs" / "rules.md").read_text(encoding="utf-8"))
    assert set(sections) == {r.id for r in builtin_rules}
    fence = re.compile(r"^(`{3,})[a-z+]*\n(.*?)^\1$", re.M | re.S)
    for rid, section in sections.items():
        for heading in ("Anti-pattern", "Best practice"):
            text = _examples(section, heading)
            assert text, f"{rid}: docs/rules.md has no '### {heading}' section"
            blocks = [b for _f, b in fence.findall(text)]
            assert any(b.strip() for b in blocks), f"{rid}: '{heading}' shows no SQL or setup"


def test_rule_doc_examples_come_from_cases_of_that_kind() -> None:
    """The Anti-pattern is a fail case of the rule and the Best practice a pass case (or a
    lint statement marked expect/twin and pass), not text written for the docs."""
    examples = rule_examples.load_examples(ROOT)
    for path in SNAPSHOT_RULE_FILES:
        cases = load_case_file(CASES_DIR / f"{path.stem}.toml")
        for kind in ("fail", "pass"):
            ex = examples[path.stem][kind]
            case = next(c for c in cases if c.name == ex.case)
            assert case.expect == kind, f"{path.stem}: {ex.case!r} is not a {kind} case"
            shown = "\n".join(b.text for b in ex.blocks)
            for part in (case.setup, case.cluster_setup, case.hba or "", case.inventory or ""):
                if part.strip():
                    assert rule_examples.shown(part).strip().splitlines()[0] in shown
    lint_markers = {"fail": ("expect", "twin"), "pass": ("pass",)}
    for path in RULE_FILES:
        if not path.stem.startswith("PGR-LINT-"):
            continue
        for kind, marks in lint_markers.items():
            ex = examples[path.stem][kind]
            file, line = ex.case.rsplit(":", 1)
            text = (ROOT / file).read_text(encoding="utf-8").splitlines()
            # the marker sits on the statement's first or last line
            window = "\n".join(text[int(line) - 1 : int(line) + 5])
            assert re.search(rf"--\s*({'|'.join(marks)}):[^\n]*{path.stem}", window), (
                f"{path.stem}: {ex.case} carries no {marks} marker for the rule"
            )


def test_readme_section_between_markers(builtin_rules: tuple) -> None:
    rules = list(builtin_rules)
    text = f"intro\n{README_START}\nSTALE-SECTION-TEXT\n{README_END}\nrest\n"
    new = replace_readme_section(text, rules)
    assert new.startswith("intro\n" + README_START + "\n| Rule |")
    assert new.endswith(README_END + "\nrest\n")
    assert "PGR-ROLE-002" in new and "STALE-SECTION-TEXT" not in new
    assert replace_readme_section("no markers", rules) == "no markers"
    assert replace_readme_section(new, rules) == new
    # (the README's own test checks that README.md itself is current)


def test_markdown_escapes_pipes(builtin_rules: tuple) -> None:
    rules = list(builtin_rules)
    r = rules[0]
    from dataclasses import replace

    odd = replace(r, title="a | b")
    assert "a \\| b" in render_readme_section([odd])


def test_framework_files_parse_as_toml() -> None:
    for p in sorted(resources.frameworks_dir().glob("*.toml")):
        tomllib.loads(p.read_text(encoding="utf-8"))
