"""The README's fleet recipes ("A fleet of clusters", "Large fleets"), run as written.

The inventory, the fleet command, the shard script and the DuckDB query are read from
README.md; only paths are replaced (the inventory's services point at the test server
through a pg_service.conf written beside it, as the recipe's ``service_file`` says).
The Kubernetes manifest cannot run here: its wiring to the shard script is checked.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from test_readme_recipes import block, sh

from pgaudit_roles.fleet import inventory as inv

AUDITOR = "pgaudit_auditor"


def services(pg, path: Path) -> None:
    """pg_service.conf: both of the recipe's services on the test server, as the auditor."""
    c = pg.cluster
    path.write_text(
        "".join(
            f"[{name}]\nhost={c.socket_dir}\nport={c.port}\nuser={AUDITOR}\ndbname=postgres\n\n"
            for name in ("orders-prod", "orders-staging")
        )
    )


@pytest.fixture
def auditor(pg) -> str:
    if not pg.query("SELECT 1 FROM pg_roles WHERE rolname = %s", (AUDITOR,)):
        pg.execute(
            f"CREATE ROLE {AUDITOR} LOGIN; GRANT pg_monitor TO {AUDITOR}; "
            f"GRANT SELECT ON pg_catalog.pg_hba_file_rules TO {AUDITOR}; "
            f"GRANT EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() TO {AUDITOR}"
        )
    return AUDITOR


def test_fleet_recipe_and_shards(pg, auditor: str, tmp_path: Path) -> None:
    work = tmp_path
    toml = block("### A fleet of clusters", "toml")
    (work / "fleet.toml").write_text(toml)
    services(pg, work / "pg_service.conf")
    loaded = inv.load(work / "fleet.toml")
    assert [t.name for t in loaded.targets] == ["orders-prod", "orders-staging"]

    res = sh(block("# fleet.toml", "sh"), work)  # the fleet command after the inventory
    [day_dir] = list((work / "fleet").iterdir())
    doc = json.loads((day_dir / "fleet-report.json").read_text())
    assert res.returncode == doc["summary"]["exit_code"], res.stderr
    assert res.returncode in (0, 1)
    assert [t["status"] for t in doc["targets"]] == ["audited", "audited"]
    assert int(doc["targets"][0]["server_version"].split(".")[0]) == pg.major
    for ext in ("json", "html", "junit.xml", "sarif", "md"):
        assert (day_dir / f"fleet-report.{ext}").is_file(), ext
    # the staging target's own fail_on from the inventory
    assert doc["targets"][1]["fail_on"] == "critical" and doc["targets"][0]["fail_on"] == "high"

    # Large fleets: the shard script, three shards, on shared storage
    script = block("## Large fleets", "sh").replace(
        "/etc/pgaudit/fleet.toml", str(work / "fleet.toml")
    )
    (work / "fleet-shard.sh").write_text(script)
    shared = work / "shared"
    for i in range(3):
        res = sh(
            f"sh {work / 'fleet-shard.sh'}",
            work,
            JOB_COMPLETION_INDEX=str(i),
            SHARDS="3",
            AUDIT_ROOT=str(shared),
        )
        assert res.returncode == 0, (i, res.stdout, res.stderr)
        assert f"shard {i}/3: exit" in res.stdout
    [night] = list((shared / "fleet").iterdir())
    shards = sorted(p.name for p in night.iterdir())
    assert shards == ["shard-0", "shard-1", "shard-2"]

    # the DuckDB query over every shard's report: each target exactly once
    import duckdb

    sql = block("any engine reads the whole fleet", "sql")
    sql = re.sub(r"/mnt/audit/fleet/[0-9-]+/", f"{night}/", sql)
    rows = duckdb.sql(sql).fetchall()
    assert sorted(r[0] for r in rows) == ["orders-prod", "orders-staging"]
    assert all(r[1] == "audited" for r in rows)

    # the shards' shared history store, read where it lies: one run per target
    history = shared / "history"
    sql = block("The store is Parquet that DuckDB reads", "sql").replace(
        "/mnt/audit/history", str(history)
    )
    rows = duckdb.sql(sql).fetchall()
    assert sorted(r[0] for r in rows) == ["orders-prod", "orders-staging"]
    by_target = {r[0]: r[2] for r in rows}
    report_high = {
        t["name"]: t["counts"]["critical"] + t["counts"]["high"]
        for d in night.iterdir()
        for t in json.loads((d / "fleet-report.json").read_text())["targets"]
    }
    assert by_target == report_high
    res = sh(
        block("draws the trends of the whole fleet", "sh").replace(
            "/mnt/audit/history", str(history)
        ),
        work,
    )
    assert res.returncode == 0, res.stderr
    page = (work / "fleet-history.html").read_text()
    assert "orders-prod" in page and "orders-staging" in page


def test_kubernetes_manifest_runs_the_shard_script() -> None:
    """The CronJob is an Indexed Job (Kubernetes sets JOB_COMPLETION_INDEX) that runs the
    shard script with SHARDS equal to its completions and parallelism."""
    yaml = block("## Large fleets", "yaml")
    assert "completionMode: Indexed" in yaml
    completions = int(re.search(r"completions: (\d+)", yaml).group(1))  # type: ignore[union-attr]
    parallelism = int(re.search(r"parallelism: (\d+)", yaml).group(1))  # type: ignore[union-attr]
    shards = int(re.search(r'name: SHARDS, value: "(\d+)"', yaml).group(1))  # type: ignore[union-attr]
    assert completions == parallelism == shards
    assert '"/etc/pgaudit/fleet-shard.sh"' in yaml and "mountPath: /etc/pgaudit" in yaml
    script = block("## Large fleets", "sh")
    assert "JOB_COMPLETION_INDEX" in script and "--shard" in script
    assert subprocess.run(["sh", "-n", "-c", script]).returncode == 0
