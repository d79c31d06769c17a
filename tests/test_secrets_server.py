"""No secret in any output, and no other file's lines in a report, on PostgreSQL 13-18.

Secrets: the auditor's password given in the DSN, in PGPASSWORD and in a passfile, a wrong
password, and pg_hba credentials (``ldapurl`` with ``user:password@``, which PostgreSQL
also quotes whole in ``pg_hba_file_rules.error`` when it rejects the URL;
``ldapbindpasswd``; ``radiussecrets``), read through the view (superuser) and through
``--hba-file`` (an auditor without the view). Every output is searched: the snapshot
(JSON and archive), every report format, the SQL script, diff output, stdout, and stderr
with ``-v``, and the error lines of failed runs.

``--hba-file`` with ``include``/``@file``/``include_dir`` pointing outside its directory
does not read those files, and a line of an included file that is not pg_hba is reported
by file, line number and error, never by its words.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_support import cli_process
from layouts import make_auditor

DSN_PW = "DsnPw-7Kq2x"
ENV_PW = "EnvPw-9Lm4z"
FILE_PW = "FilePw-3Hv8w"
WRONG_PW = "WrongPw-5Tt1y"
LDAP_URL_PW = "LdapUrlPw-2Qa6"
LDAP_BIND_PW = "LdapBindPw-8Rc3"
RADIUS_SECRET = "RadiusSecret-4Nb7"
SHADOW = "root:ShadowHash-6Yd2:19000:0:99999:7:::"
INSIDE = "daemon:InsideHash-1Wq9:19000:0:99999:7:::"
SECRETS = (
    DSN_PW,
    ENV_PW,
    FILE_PW,
    WRONG_PW,
    LDAP_URL_PW,
    LDAP_BIND_PW,
    RADIUS_SECRET,
    "ShadowHash-6Yd2",
    "InsideHash-1Wq9",
)

SECRET_HBA = (
    f'host all ldap_a 127.0.0.1/32 ldap ldapurl="ldap://admin:{LDAP_URL_PW}@127.0.0.1/dc=x?uid?nosuchscope"\n'
    f'host all ldap_b 127.0.0.1/32 ldap ldapurl="ldap://admin:{LDAP_URL_PW}@127.0.0.1/dc=x?uid?sub"\n'
    f'host all ldap_c 127.0.0.1/32 ldap ldapserver=127.0.0.1 ldapbasedn="dc=x" '
    f'ldapbinddn="cn=admin" ldapbindpasswd={LDAP_BIND_PW} ldapsearchattribute=uid\n'
    f"host all rad_a 127.0.0.1/32 radius radiusservers=127.0.0.1 radiussecrets={RADIUS_SECRET}\n"
    f'host all rad_b 127.0.0.1/32 radius radiusservers="127.0.0.1" radiussecrets="{RADIUS_SECRET}" '
    "radiusports=notaport\n"
)


def run_cli(
    *args: str, env: dict[str, str] | None = None, process: bool = True
) -> subprocess.CompletedProcess[str]:
    """``pgaudit-roles ARGS`` with no PG* variables but ``env``: a real process (what reaches
    its argv, environment, warnings, ``-v`` log and exit), or with ``process=False`` in this
    process (tests/cli_support.py) for a run that reads only files, or repeats through argv or
    ``env`` a channel a real process of this test already covers."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    base.update(env or {})
    if not process:
        return cli_process(list(args), env=base)
    return subprocess.run(
        [sys.executable, "-m", "pgaudit_roles.cli", *args],
        capture_output=True,
        text=True,
        env=base,
        timeout=300,
    )


@pytest.fixture(scope="module")
def auditor(pg: Any) -> tuple[str, str]:
    """A pg_monitor login without the view grants: it needs --hba-file."""
    name = pg.unique("sec_auditor")
    make_auditor(pg, name, hba=False, password=DSN_PW)
    return name, DSN_PW


@pytest.fixture
def secret_hba(pg: Any) -> Iterator[Path]:
    """The server's pg_hba.conf with credential-bearing lines after the trust line (the
    file is not reloaded: the view reads the file, logins keep the old rules)."""
    path = pg.cluster.hba_file
    original = path.read_text(encoding="utf-8")
    path.write_text(original + SECRET_HBA, encoding="utf-8")
    try:
        yield path
    finally:
        path.write_text(original, encoding="utf-8")


def _everything(paths: list[Path], *texts: str) -> str:
    """All text the runs produced: files (tar members too), stdout, stderr."""
    parts = list(texts)
    for root in paths:
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for f in files:
            data = f.read_bytes()
            parts.append(data.decode("utf-8", "replace"))
            if tarfile.is_tarfile(f):
                with tarfile.open(f) as tar:
                    for m in tar.getmembers():
                        fh = tar.extractfile(m)
                        if fh is not None:
                            parts.append(fh.read().decode("utf-8", "replace"))
    return "\n".join(parts)


def _assert_no_secret(blob: str) -> None:
    for secret in SECRETS:
        assert secret not in blob, f"secret {secret} leaked"


def test_no_secret_anywhere(
    pg: Any, auditor: tuple[str, str], secret_hba: Path, tmp_path: Path
) -> None:
    name, password = auditor
    hba_copy = tmp_path / "conf" / "pg_hba.conf"
    hba_copy.parent.mkdir()
    hba_copy.write_text(secret_hba.read_text(encoding="utf-8"), encoding="utf-8")
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"127.0.0.1:{pg.cluster.port}:*:{name}:{password}\n")
    passfile.chmod(0o600)
    # the passfile and PGPASSWORD hold the real password under other names in this test;
    # what matters is that none of the three strings is ever printed
    nopw = pg.cluster.tcp_conninfo(name)
    runs: list[subprocess.CompletedProcess[str]] = []
    out = tmp_path / "out"

    def run(
        *args: str,
        env: dict[str, str] | None = None,
        ok: tuple[int, ...] = (0, 1),
        process: bool = True,
    ) -> None:
        res = run_cli(*args, env=env, process=process)
        assert "Traceback" not in res.stderr, res.stderr
        assert res.returncode in ok, (args, res.returncode, res.stderr)
        runs.append(res)

    # password in the DSN, hba through --hba-file
    dsn = pg.cluster.tcp_conninfo(name, password)
    run("collect", dsn, "--hba-file", str(hba_copy), "-o", str(out / "a.json"), ok=(0,))
    # the archive form of the same collect: its file is what this run adds (the DSN in a
    # real process's argv is covered by the collect above and the scan below)
    run(
        "collect",
        dsn,
        "--hba-file",
        str(hba_copy),
        "-o",
        str(out / "a.tar"),
        ok=(0,),
        process=False,
    )
    # the one run that verifies its SQL script on a twin (the verification's outputs, -v
    # log included, are searched too); the other sql-writing runs below skip it
    run(
        "scan",
        dsn,
        "--hba-file",
        str(hba_copy),
        "--format",
        "json,html,junit,sarif,sql,text",
        "--output-dir",
        str(out / "scan"),
        "--snapshot-out",
        str(out / "scan.json.gz"),
        "-v",
    )
    # PGPASSWORD and a passfile (its password differs from PGPASSWORD's: the file wins
    # only when no password is given otherwise, so set both ways separately)
    run(
        "collect",
        nopw,
        "--hba-file",
        str(hba_copy),
        "-o",
        str(out / "env.json"),
        env={"PGPASSWORD": password},
        ok=(0,),
    )
    run(
        "collect",
        nopw,
        "--hba-file",
        str(hba_copy),
        "-o",
        str(out / "file.json"),
        env={"PGPASSFILE": str(passfile)},
        ok=(0,),
    )
    # the view, as the superuser: the scan writes every report format, its -v log and the
    # snapshot that check and query read
    run(
        "scan",
        pg.conninfo(),
        "--format",
        "json,html,junit,sarif,sql,text",
        "--output-dir",
        str(out / "vscan"),
        "--snapshot-out",
        str(out / "view.json"),
        "--no-verify",
        "-v",
    )
    # check of that snapshot: its reports and what it prints (in this process: no secret in
    # its argv or environment, and the scan above is the real -v process over the same data)
    run(
        "check",
        str(out / "view.json"),
        "--format",
        "json,html,junit,sarif,sql,text",
        "--output-dir",
        str(out / "check"),
        "--no-verify",
        process=False,
    )
    run(
        "diff",
        str(out / "a.json"),
        str(out / "env.json"),
        "--format",
        "html",
        "-o",
        str(out / "diff.html"),
        process=False,  # snapshot files in, a file and stdout out: no secret in argv or env
    )
    run("diff", str(out / "a.json"), str(out / "file.json"), "--format", "json", process=False)
    run("query", str(out / "view.json"), "SELECT * FROM hba_rules", process=False)
    # wrong passwords, each way: one line, exit 3, no password in it (a real process per
    # way for scan -v; collect's error line in this process, same argv and environment)
    for env, conn in (
        ({}, pg.cluster.tcp_conninfo(name, WRONG_PW)),
        ({"PGPASSWORD": WRONG_PW}, nopw),
    ):
        run("collect", conn, "-o", str(out / "bad.json"), env=env, ok=(3,), process=False)
        run("scan", conn, "-v", "--output-dir", str(out / "bad"), env=env, ok=(3,))
    # the other two strings as wrong passwords: the PGPASSWORD channel of a real process is
    # covered just above, these check that neither string is echoed in the error line
    for secret_env in ({"PGPASSWORD": ENV_PW}, {"PGPASSWORD": FILE_PW}):
        run("collect", nopw, "-o", str(out / "bad.json"), env=secret_env, ok=(3,), process=False)

    assert (out / "a.json").exists() and (out / "view.json").exists()
    # the verification ran, so its outputs are among those searched
    assert "-- verified:  yes" in (out / "scan" / "pgaudit-report.sql").read_text("utf-8")
    blob = _everything([out], *(r.stdout + r.stderr for r in runs))
    # the lines were read: their non-secret parts are there
    assert "rad_a" in blob and "ldap_c" in blob and "<redacted>" in blob
    assert "could not parse LDAP URL" in blob  # the error is there, its password is not
    _assert_no_secret(blob)


OUTSIDE_HBA = (
    "local all all trust\n"
    "include ../outside/shadow\n"
    "include_if_exists ../outside/shadow\n"
    "include_dir ../outside\n"
    "host all @../outside/shadow 127.0.0.1/32 md5\n"
    "include inside.conf\n"
    "host @lists all 127.0.0.1/32 md5\n"
)


def _hba_tree(tmp_path: Path) -> Path:
    conf = tmp_path / "conf"
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "shadow").write_text(SHADOW + "\n")
    (tmp_path / "outside" / "x.conf").write_text(SHADOW + "\n")
    conf.mkdir()
    (conf / "inside.conf").write_text(INSIDE + "\nhost all all 10.0.0.1/32 md5\n")
    (conf / "lists").write_text("app_a app_b\n")  # an @file beside pg_hba.conf is read
    hba = conf / "pg_hba.conf"
    hba.write_text(OUTSIDE_HBA)
    return hba


@pytest.mark.parametrize("major", [13, 14, 15, 16, 17, 18])
def test_parser_reads_no_file_outside_and_shows_no_included_words(
    major: int, tmp_path: Path
) -> None:
    from pgaudit_roles.collect.hba import parse_hba_file

    rows = parse_hba_file(str(_hba_tree(tmp_path)), major)
    blob = repr(rows)
    assert "ShadowHash" not in blob and "InsideHash" not in blob and "root:" not in blob
    assert any(r["databases"] == ["app_a", "app_b"] for r in rows), rows
    if major >= 16:
        included = [r for r in rows if r["file_name"].endswith("inside.conf")]
        assert included and included[0]["line_number"] == 1 and included[0]["error"]
        assert included[1]["address"] == "10.0.0.1"  # the valid line of the file is read
        outside = [r for r in rows if r["error"] and "outside the directory" in r["error"]]
        assert len(outside) >= 3, rows


def test_collect_with_hba_file_outside(pg: Any, auditor: tuple[str, str], tmp_path: Path) -> None:
    name, password = auditor
    hba = _hba_tree(tmp_path)
    out = tmp_path / "snap.json"
    res = run_cli(
        "scan",
        pg.cluster.tcp_conninfo(name, password),
        "--hba-file",
        str(hba),
        "--snapshot-out",
        str(out),
        "--format",
        "json,html,text",
        "--output-dir",
        str(tmp_path / "r"),
        "-v",
    )
    assert "Traceback" not in res.stderr and res.returncode in (0, 1), res.stderr
    blob = _everything([out, tmp_path / "r"], res.stdout, res.stderr)
    assert "pg_hba.conf" in blob
    assert "ShadowHash" not in blob and "InsideHash" not in blob
