"""JUnit XML: valid against the Ant JUnit XSD, stable unique names, a case per clean rule."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter

import pytest
import xmlschema
from report_fixtures import IMG, SECRET, empty_result, full_result, many_result

from pgaudit_roles.reports import render


@pytest.fixture(scope="module")
def xsd(shared_schemas):
    return xmlschema.XMLSchema(str(shared_schemas / "junit.xsd"))


def parse(text: str) -> ET.Element:
    return ET.fromstring(text.encode("utf-8"))


@pytest.mark.parametrize(
    "make", [full_result, empty_result, lambda: many_result(400)], ids=["full", "empty", "many"]
)
@pytest.mark.parametrize("granularity", ["rule", "finding"])
def test_valid_against_xsd(xsd, make, granularity):
    text = render(make(), "junit", junit_granularity=granularity)
    errors = list(xsd.iter_errors(text))
    assert not errors, str(errors[0])


def test_xsd_catches_invalid_document(xsd):
    root = parse(render(full_result(), "junit"))
    root.find("testsuite").attrib.pop("hostname")
    assert list(xsd.iter_errors(ET.tostring(root, encoding="unicode")))


def cases(root: ET.Element) -> list[ET.Element]:
    return root.findall("./testsuite/testcase")


@pytest.mark.parametrize("granularity", ["rule", "finding"])
def test_names_unique_stable_and_free_of_message_text(granularity):
    a = parse(render(full_result(), "junit", junit_granularity=granularity))
    b = parse(render(full_result(), "junit", junit_granularity=granularity))
    keys = [(c.get("classname"), c.get("name")) for c in cases(a)]
    assert keys == [(c.get("classname"), c.get("name")) for c in cases(b)]
    dupes = [k for k, n in Counter(keys).items() if n > 1]
    assert not dupes
    for cn, name in keys:
        assert "violates" not in name  # message text never in a name
        assert "\n" not in name and "\n" not in cn and "\x1b" not in name
        assert cn.count(".") == 2, cn


def test_suite_per_database_plus_cluster():
    root = parse(render(full_result(), "junit"))
    names = [s.get("name") for s in root.findall("testsuite")]
    assert names[0] == "cluster"
    assert {"database app", "database reporting", f"database {IMG}"} <= set(names)
    assert [s.get("id") for s in root.findall("testsuite")] == [str(i) for i in range(len(names))]


def test_outcomes():
    root = parse(render(full_result(), "junit"))
    by = {(c.get("classname"), c.get("name")): c for c in cases(root)}
    clean = by[("pgaudit-roles.cluster.roles", "[INFO] PGR-PASS-006 (all objects)")]
    assert len(clean) == 0  # passing testcase
    skipped = by[("pgaudit-roles.cluster.hba", "[HIGH] PGR-HBA-004 (all objects)")]
    assert skipped[0].tag == "skipped" and "pg_hba_file_rules" in skipped[0].get("message")
    err = by[("pgaudit-roles.cluster.ownership", "[LOW] PGR-OWN-005 (all objects)")]
    assert err[0].tag == "error"
    fail = by[("pgaudit-roles.cluster.roles", "[CRITICAL] PGR-ROLE-001")]
    assert fail[0].tag == "failure"
    body = fail[0].text
    assert "NOSUPERUSER" in body and "new\\nline FAIL: forged" in body
    # the waived finding alone in its database: skipped, with reason and expiry
    waived_app = by[("pgaudit-roles.db=app.privileges", "[MEDIUM] PGR-DEFACL-003")]
    assert waived_app[0].tag == "failure"  # another active finding in app: still a failure
    assert "waived: legacy schema" in waived_app[0].text


def test_all_waived_or_baselined_is_skipped_with_reason():
    root = parse(render(full_result(), "junit", junit_granularity="finding"))
    skipped = [c for c in cases(root) if len(c) and c[0].tag == "skipped"]
    msgs = " | ".join(c[0].get("message") for c in skipped)
    assert "waived: legacy schema" in msgs and "expires 2099-12-31" in msgs
    assert "accepted by baseline" in msgs


def test_clean_scan_still_has_tests():
    root = parse(render(empty_result(), "junit"))
    (suite,) = root.findall("testsuite")[:1]
    assert int(suite.get("tests")) == 6 and int(suite.get("failures")) == 0
    assert int(suite.get("skipped")) == 1


def test_database_names_cannot_collide_in_classnames():
    from pgaudit_roles.reports.junit_report import classname

    assert classname("a.b", "x") != classname("a_b", "x") != classname("a%2Eb", "x")
    assert classname("a.b", "x") == "pgaudit-roles.db=a%2Eb.x"
    assert classname("cluster", "x") != classname(None, "x")


def test_no_secret_and_hostile_text_escaped():
    text = render(full_result(), "junit")
    assert SECRET not in text
    assert "\x1b" not in text
    assert "<img" not in text  # every < in data is an entity in XML
    root = parse(text)
    assert any(IMG in (s.get("name") or "") for s in root.findall("testsuite"))
