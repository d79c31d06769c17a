"""Clusters that are not UTF-8: SQL_ASCII (bytes stored as sent) and LATIN1 with a WIN1252
database, on PostgreSQL 13-18.

A SQL_ASCII cluster used to crash ``collect`` and ``scan`` ("bytes is not JSON
serializable", exit 1) and made ``collect -d postgres`` say "database not found". Names
must round-trip: valid UTF-8 bytes as the text they spell, bytes invalid in UTF-8 as
``\\xNN`` (pgaudit_roles/collect/server_text.py), LATIN1/WIN1252 names converted exactly.
Each version's two clusters are built once for the module.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_support import cli_process
from conftest import VERSIONS, install_for

from pgaudit_roles.core.localpg import LocalCluster

BAD_ROLE = b"bad\xff\xfename"  # not UTF-8 at all
BAD_ROLE_SHOWN = "bad\\xff\\xfename"
UTF8_ROLE = "caf\u00e9_owner"  # valid UTF-8 bytes in a SQL_ASCII cluster
RAW_SCHEMA = b"s\xe9"  # a LATIN1 byte in a SQL_ASCII cluster
RAW_SCHEMA_SHOWN = "s\\xe9"
RAW_DB = b"db\xe9"


def _exec(cluster: LocalCluster, sql: bytes, dbname: str = "postgres") -> None:
    """Run ``sql`` as sent: SQL_ASCII gets the raw bytes; other servers get UTF-8 text
    (the client encoding must be set at connect time: a SET in the same message is too
    late, the message is converted on arrival)."""
    import psycopg

    extra = {} if cluster.encoding == "SQL_ASCII" else {"client_encoding": "UTF8"}
    with psycopg.connect(cluster.conninfo(dbname=dbname, **extra), autocommit=True) as conn:
        conn.execute(sql)


class Clusters:
    def __init__(self, sql_ascii: LocalCluster, latin1: LocalCluster) -> None:
        self.sql_ascii = sql_ascii
        self.latin1 = latin1


@pytest.fixture(scope="module", params=VERSIONS, ids=[f"pg{v}" for v in VERSIONS])
def clusters(request: pytest.FixtureRequest) -> Iterator[Clusters]:
    inst = install_for(request.param)
    raw = LocalCluster(inst, encoding="SQL_ASCII")
    latin = LocalCluster(inst, encoding="LATIN1")
    try:
        raw.start()
        _exec(
            raw,
            b'CREATE ROLE "' + BAD_ROLE + b'" LOGIN; '
            b'CREATE ROLE "' + UTF8_ROLE.encode() + b'" LOGIN; '
            b'CREATE SCHEMA "'
            + RAW_SCHEMA
            + b'" AUTHORIZATION "'
            + UTF8_ROLE.encode()
            + b'"; GRANT CREATE ON SCHEMA "'
            + RAW_SCHEMA
            + b'" TO PUBLIC; '
            b'CREATE TABLE "' + RAW_SCHEMA + b'".t (c int); '
            b'GRANT SELECT ON "' + RAW_SCHEMA + b'".t TO "' + BAD_ROLE + b'"; '
            b'COMMENT ON ROLE "' + BAD_ROLE + b"\" IS 'x\xfe'",
        )
        _exec(raw, b'CREATE DATABASE "' + RAW_DB + b'"')
        latin.start()
        _exec(
            latin,
            'CREATE ROLE "café_app" LOGIN; '
            'CREATE SCHEMA "sé"; GRANT CREATE ON SCHEMA "sé" TO PUBLIC'.encode(),
        )
        _exec(latin, b"CREATE DATABASE w1252 ENCODING 'WIN1252' TEMPLATE template0")
        _exec(
            latin,
            'CREATE SCHEMA "€uro"; GRANT CREATE ON SCHEMA "€uro" TO PUBLIC'.encode(),
            dbname="w1252",
        )
        yield Clusters(raw, latin)
    finally:
        raw.stop()
        latin.stop()


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """In this process (tests/cli_support.py: stdout and stderr captured as UTF-8 pipes, an
    exception fails the test as a traceback would): a subprocess per run paid the
    interpreter start and the heavy imports again, about 0.6 s of CPU each."""
    return cli_process(list(args))


def _no_crash(res: subprocess.CompletedProcess[str], *ok: int) -> None:
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode in ok, (res.returncode, res.stderr)


def _names(snap: dict[str, Any], table: str) -> list[str]:
    t = snap["cluster"][table]
    i = t["columns"].index("name")
    return [r[i] for r in t["rows"]]


def _db_names(snap: dict[str, Any], db: str, table: str) -> list[str]:
    d = next(d for d in snap["databases"] if d["name"] == db)
    t = d["tables"][table]
    i = t["columns"].index("name")
    return [r[i] for r in t["rows"]]


class AsciiChecked:
    """The SQL_ASCII cluster collected once, and that snapshot checked once into every
    format the tests read; the tests only read them."""

    def __init__(self, work: Path) -> None:
        self.snap_path = work / "snap.json"
        self.out = work / "reports"
        self.collect: subprocess.CompletedProcess[str] | None = None
        self.check: subprocess.CompletedProcess[str] | None = None


@pytest.fixture(scope="module")
def ascii_checked(clusters: Clusters, tmp_path_factory: Any) -> AsciiChecked:
    """One collect and one evaluation of the SQL_ASCII cluster for the two tests that read
    them (its reports, and what reached the terminal): each did both before. The check
    writes the files and prints the text report on stdout (no -q); --fail-on none, as the
    terminal test ran it (the report test accepts 0 or 1); --no-verify: no test here reads
    the script's twin verification of the SQL_ASCII names (the LATIN1 test verifies its
    script)."""
    done = AsciiChecked(tmp_path_factory.mktemp("ascii"))
    done.collect = cli("collect", clusters.sql_ascii.conninfo(), "-o", str(done.snap_path), "-q")
    if done.collect.returncode == 0:
        done.check = cli(
            "check",
            str(done.snap_path),
            "--format",
            "json,html,text,sql",
            "--output-dir",
            str(done.out),
            "--fail-on",
            "none",
            "--no-verify",
        )
    return done


def test_sql_ascii_collect_and_scan(
    clusters: Clusters, ascii_checked: AsciiChecked, tmp_path: Path
) -> None:
    c = clusters.sql_ascii
    snap_path = ascii_checked.snap_path
    assert ascii_checked.collect is not None
    _no_crash(ascii_checked.collect, 0)
    snap = json.loads(snap_path.read_text(encoding="utf-8"))
    assert snap["meta"]["server_encoding"] == "SQL_ASCII"
    roles = _names(snap, "roles")
    assert BAD_ROLE_SHOWN in roles and UTF8_ROLE in roles
    dbs = {d["name"]: d for d in snap["databases"]}
    assert dbs["postgres"]["status"] == "collected"
    assert RAW_SCHEMA_SHOWN in _db_names(snap, "postgres", "schemas")
    # a database whose name is not UTF-8 cannot be named in a UTF-8 connection string: it
    # is listed, escaped, and says why it was not read
    assert "db\\xe9" in dbs and dbs["db\\xe9"]["status"] == "not_collected"
    assert dbs["db\\xe9"]["reason"]

    out = ascii_checked.out
    assert ascii_checked.check is not None
    _no_crash(ascii_checked.check, 0, 1)
    assert (out / "pgaudit-report.sql").exists() and (out / "pgaudit-report.txt").exists()
    report = (out / "pgaudit-report.json").read_text(encoding="utf-8")
    assert json.dumps(RAW_SCHEMA_SHOWN)[1:-1] in report
    html = (out / "pgaudit-report.html").read_text(encoding="utf-8")
    assert "s\\xe9" in html or "s\\\\xe9" in html

    res = cli(
        "scan",
        c.conninfo(),
        "--format",
        "json",
        "--output-dir",
        str(tmp_path / "s"),
        "-q",
        "--snapshot-out",
        str(tmp_path / "scan.tar"),
    )
    _no_crash(res, 0, 1)
    res = cli(
        "check",
        str(tmp_path / "scan.tar"),
        "--format",
        "json",
        "--output-dir",
        str(tmp_path / "t"),
        "-q",
    )
    _no_crash(res, 0, 1)
    again = json.loads((tmp_path / "t" / "pgaudit-report.json").read_text())
    first = json.loads((tmp_path / "s" / "pgaudit-report.json").read_text())
    assert sorted(f["fingerprint"] for f in again["findings"]) == sorted(
        f["fingerprint"] for f in first["findings"]
    )


def test_sql_ascii_collect_one_database(clusters: Clusters, tmp_path: Path) -> None:
    res = cli(
        "collect",
        clusters.sql_ascii.conninfo(),
        "-d",
        "postgres",
        "-o",
        str(tmp_path / "one.json"),
        "-q",
    )
    _no_crash(res, 0)
    snap = json.loads((tmp_path / "one.json").read_text())
    assert [d["name"] for d in snap["databases"]] == ["postgres"]
    res = cli(
        "collect",
        clusters.sql_ascii.conninfo(),
        "-d",
        "nope",
        "-o",
        str(tmp_path / "none.json"),
        "-q",
    )
    _no_crash(res, 3)
    assert "database not found" in res.stderr and "'nope'" in res.stderr


def test_sql_ascii_names_are_escaped_on_the_terminal(ascii_checked: AsciiChecked) -> None:
    snap_path = ascii_checked.snap_path
    assert ascii_checked.collect is not None and ascii_checked.check is not None
    _no_crash(ascii_checked.collect, 0)
    res = ascii_checked.check
    _no_crash(res, 0)
    assert "\ufffd" not in res.stdout
    # the text summary shows the top findings only, which need not name the role on every
    # version: list every role on the terminal instead
    res = cli("query", str(snap_path), "SELECT name FROM roles ORDER BY name")
    _no_crash(res, 0)
    assert "\ufffd" not in res.stdout
    assert "xff" in res.stdout and "xfe" in res.stdout


def test_latin1_and_win1252_round_trip(clusters: Clusters, tmp_path: Path) -> None:
    c = clusters.latin1
    snap_path = tmp_path / "latin.json"
    _no_crash(cli("collect", c.conninfo(), "-o", str(snap_path), "-q"), 0)
    snap = json.loads(snap_path.read_text(encoding="utf-8"))
    assert snap["meta"]["server_encoding"] == "LATIN1"
    assert "café_app" in _names(snap, "roles")
    assert "sé" in _db_names(snap, "postgres", "schemas")
    assert "€uro" in _db_names(snap, "w1252", "schemas")
    res = cli(
        "check", str(snap_path), "--format", "json,sql", "--output-dir", str(tmp_path / "r"), "-q"
    )
    _no_crash(res, 1)
    report = json.loads((tmp_path / "r" / "pgaudit-report.json").read_text(encoding="utf-8"))
    ids = " ".join(str(f.get("object_identity")) for f in report["findings"])
    assert "sé" in ids and "€uro" in ids
    sql = (tmp_path / "r" / "pgaudit-report.sql").read_text(encoding="utf-8")
    assert '"sé"' in sql or "sé" in sql
    # the module's one twin verification: this script, with the converted names
    assert "-- verified:  yes" in sql, sql[:2000]
