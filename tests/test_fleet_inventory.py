"""The fleet inventory without a server: parsing, errors, --select and --shard.

Errors are checked through the CLI (one line on stderr, exit 2, nothing written), since
that is what a user sees; the selection and sharding through the functions.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import run_cli

from pgaudit_roles.fleet import inventory as inv

GOOD = """
service_file = "services.conf"

[defaults]
team = "payments"
tags = ["eu"]
timeout = "90s"
config = { fail_on = "critical", collect = { lock_timeout = "1s" } }

[[targets]]
name = "orders-prod"
dsn = "host=127.0.0.1 port=5999 dbname=postgres user=pgaudit_auditor"
environment = "prod"
application = "orders"
tags = ["eu", "tier1"]
config = { collect = { jobs = 1 } }

[[targets]]
name = "orders staging \\"q\\" <b>"
service = "orders-staging"
environment = "staging"
application = "orders"
timeout = 30
"""


def write(tmp_path: Path, text: str, name: str = "fleet.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_toml_inventory_fields_defaults_and_merged_config(tmp_path: Path) -> None:
    loaded = inv.load(write(tmp_path, GOOD))
    assert loaded.kind == "toml"
    prod, staging = loaded.targets
    assert (prod.environment, prod.application, prod.team) == ("prod", "orders", "payments")
    assert prod.tags == ("eu", "tier1") and staging.tags == ("eu",)
    assert prod.timeout == 90.0 and staging.timeout == 30.0
    # one level deep: the target's collect.jobs keeps the defaults' collect.lock_timeout
    assert prod.config == {"fail_on": "critical", "collect": {"lock_timeout": "1s", "jobs": 1}}
    assert "service=orders-staging" in staging.conninfo
    assert staging.service_file == str((tmp_path / "services.conf").resolve())
    assert prod.service_file is None
    assert staging.slug != staging.name and "/" not in staging.slug and staging.slug.isprintable()
    assert prod.slug == "orders-prod"


def test_pg_service_conf_sections_are_targets(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "# fleet\n[billing-prod]\nhost=127.0.0.1\nport=5432\n\n"
        "[billing-staging]\nhost=10.0.0.2\ndbname=postgres\n",
        "pg_service.conf",
    )
    loaded = inv.load(p)
    assert loaded.kind == "pg_service"
    assert [t.name for t in loaded.targets] == ["billing-prod", "billing-staging"]
    assert all(t.service == t.name and f"service={t.name}" in t.conninfo for t in loaded.targets)
    assert {t.service_file for t in loaded.targets} == {str(p.resolve())}


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[[targets]\nname = 'x'", "invalid TOML"),
        ("[[targets]]\nname = 'a'\ndsn = 'host=x'\nport = 5", "unknown key 'port'"),
        ("colour = 'blue'\n[[targets]]\nname = 'a'\ndsn = 'host=x'", "unknown key 'colour'"),
        (
            "[[targets]]\nname = 'a'\ndsn = 'host=x'\n[[targets]]\nname = 'a'\ndsn = 'host=y'",
            "duplicate target name 'a'",
        ),
        ("[[targets]]\nname = 'a'", "exactly one of 'dsn' or 'service'"),
        (
            "[[targets]]\nname = 'a'\ndsn = 'host=x'\nservice = 's'",
            "exactly one of 'dsn' or 'service'",
        ),
        ("[[targets]]\ndsn = 'host=x'", "'name' is required"),
        ("[[targets]]\nname = 'a'\ndsn = 'host=x'\ntimeout = 'soon'", "is not a duration"),
        ("[[targets]]\nname = 'a'\ndsn = 'host=x'\ntags = 'eu'", "'tags' must be a list"),
        (
            "[[targets]]\nname = 'a'\ndsn = 'host=x'\nconfig = { fail_on = 'sometimes' }",
            "fail_on: 'sometimes' is not one of",
        ),
        (
            "[[targets]]\nname = 'a'\ndsn = 'host=x'\nconfig = { colect = {} }",
            "unknown key 'colect'",
        ),
        (
            "[defaults]\nconfig = { output_dir = 'x' }\n[[targets]]\nname = 'a'\ndsn = 'host=x'",
            "config.output_dir cannot be set per target",
        ),
        (
            "[[targets]]\nname = 'a'\ndsn = 'host=x'\nconfig = { rules = { disable = ['PGR-NOPE-1'] } }",
            "unknown rule id 'PGR-NOPE-1'",
        ),
        ("[[targets]]\nname = 'a'\ndsn = 'hostaddr'", "invalid connection string"),
        ("[billing]\nhost=a\n[billing]\nhost=b\n", "duplicate target name 'billing'"),
        ("", "no targets"),
    ],
)
def test_inventory_errors_are_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, needle: str
) -> None:
    p = write(tmp_path, text)
    out_dir = tmp_path / "out"
    code, out, err = run_cli(["fleet", str(p), "--output-dir", str(out_dir), "-q"], capsys)
    assert code == 2, (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pgaudit-roles: error: "), err
    assert needle in lines[0] and "Traceback" not in err
    assert not out_dir.exists(), "nothing may be written for a bad inventory"


def test_missing_inventory_and_bad_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(["fleet", str(tmp_path / "nope.toml")], capsys)
    assert code == 2 and "file not found" in err
    p = write(tmp_path, GOOD)
    for args, needle in (
        (["--shard", "4/4"], "INDEX must be from 0"),
        (["--shard", "x"], "use INDEX/COUNT"),
        (["--select", "colour=red"], "use KEY=VALUE"),
        (["--select", "tag=nowhere"], "no target matches"),
        (["--format", "pdf"], "unknown report format 'pdf'"),
        (["--target-timeout", "0"], "must be more than zero"),
    ):
        code, _, err = run_cli(
            ["fleet", str(p), "--output-dir", str(tmp_path / "o"), *args], capsys
        )
        assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, (args, err)


def test_select_and_or(tmp_path: Path) -> None:
    targets = inv.load(write(tmp_path, GOOD)).targets
    pick = lambda *s: [t.name for t in inv.choose(targets, inv.parse_select(s), None)]  # noqa: E731
    assert pick("tag=tier1") == ["orders-prod"]
    assert len(pick("tag=eu")) == 2
    assert pick("env=staging,qa") == [targets[1].name]
    assert pick("tag=eu", "environment=prod") == ["orders-prod"]
    assert pick("name=orders-*") == ["orders-prod"]
    assert pick("team=payments", "app=billing") == []


def test_shards_partition_the_fleet_and_are_stable() -> None:
    names = [f"cluster-{i:03d}" for i in range(200)]
    for n in (1, 3, 7):
        parts = [[x for x in names if inv.shard_of(x, n) == i] for i in range(n)]
        assert sorted(sum(parts, [])) == sorted(names)  # every target in exactly one shard
        assert all(parts) and max(map(len, parts)) < 2.5 * len(names) / n
    # stable across processes and releases: a fixed value, not Python's salted hash()
    assert (
        inv.shard_of("orders-prod", 4)
        == int.from_bytes(__import__("hashlib").sha256(b"orders-prod").digest()[:8], "big") % 4
    )
    # adding a target moves no other target between shards
    before = {x: inv.shard_of(x, 5) for x in names}
    assert all(inv.shard_of(x, 5) == s for x, s in before.items())
    assert inv.parse_shard("2/5") == (2, 5)


def test_durations() -> None:
    assert inv.parse_duration("10min", "t") == 600
    assert inv.parse_duration("1h", "t") == 3600
    assert inv.parse_duration(1.5, "t") == 1.5
    with pytest.raises(inv.InventoryError):
        inv.parse_duration(True, "t")


def test_empty_shard_is_an_empty_report_exit_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """More batch tasks than targets: a task whose shard is empty succeeds with an empty
    report (an Indexed Job must not fail for it); no cluster is contacted."""
    import json

    p = write(tmp_path, GOOD)
    names = [t.name for t in inv.load(p).targets]
    empty = next(i for i in range(50) if all(inv.shard_of(n, 50) != i for n in names))
    out = tmp_path / "out"
    code, _, err = run_cli(
        ["fleet", str(p), "--shard", f"{empty}/50", "--output-dir", str(out), "-q"], capsys
    )
    assert code == 0, err
    doc = json.loads((out / "fleet-report.json").read_text())
    assert doc["targets"] == [] and doc["run"]["shard"] == f"{empty}/50"
    assert doc["run"]["targets_in_inventory"] == 2


def test_a_service_file_in_an_unknown_users_home_is_an_inventory_error(tmp_path: Path) -> None:
    """``~name`` of a user this machine does not know cannot be expanded: one line naming
    the file and the value, a usage error (exit 2), not pathlib's RuntimeError."""
    path = tmp_path / "fleet.toml"
    path.write_text('service_file = "~no-such-user-0/services.conf"\n', encoding="utf-8")
    with pytest.raises(inv.InventoryError) as exc:
        inv.load(path)
    assert "~no-such-user-0/services.conf" in str(exc.value) and str(path) in str(exc.value)
    assert exc.value.exit_code == 2
