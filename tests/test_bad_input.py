"""Hostile and damaged input files: never a traceback, always one line and exit 2.

Pure logic, no server: a small valid snapshot is built in code, then damaged in every way
issue 12 lists (empty, truncated, binary, deeply nested, byte-flipped gzip, wrong version,
wrong types, rows of the wrong length or type, NULL names, ``sources: null``, garbage or
swapped Parquet members), and every other file the tool reads (config, waivers, baseline,
user rules, JSON reports) gets the same treatment. Hypothesis fuzzes the snapshot and
config loaders. Writes to a full or read-only place leave no file and exit 2.
"""

from __future__ import annotations

import copy
import gzip
import io
import json
import os
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cli_support import cli_process, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgaudit_roles.collect import snapshot as snapmod
from pgaudit_roles.collect.snapshot import CLUSTER_TABLES, DATABASE_TABLES, FORMAT, FORMAT_VERSION
from pgaudit_roles.commands import check as check_cmd
from pgaudit_roles.config import load_config
from pgaudit_roles.core.errors import EXIT_INTERNAL, EXIT_USAGE, AuditError, UsageError

SOURCES_OK = {name: {"collected": True, "reason": None} for name in snapmod.SOURCES}


def _row(spec: list[tuple[str, str, str]], **values: Any) -> list[Any]:
    defaults = {"BIGINT": 1, "INTEGER": 0, "VARCHAR": "x", "BOOLEAN": False, "VARCHAR[]": None}
    return [values.get(name, defaults[ty]) for name, ty, _d in spec]


def valid_doc() -> dict[str, Any]:
    """A small snapshot with the rows the rules look at: a login superuser, a PUBLIC
    CREATE on a schema (so findings exist that damage could hide)."""
    roles = CLUSTER_TABLES["roles"]
    dbs = CLUSTER_TABLES["databases"]
    cluster = {
        "roles": {
            "columns": [c[0] for c in roles],
            "rows": [
                _row(
                    roles,
                    oid=10,
                    name="postgres",
                    superuser=True,
                    login=True,
                    connection_limit=-1,
                    predefined=False,
                    valid_until=None,
                    password_type=None,
                    comment=None,
                ),
                _row(
                    roles,
                    oid=16384,
                    name="app_owner",
                    login=True,
                    connection_limit=-1,
                    valid_until=None,
                    password_type=None,
                    comment=None,
                ),
            ],
        },
        "databases": {
            "columns": [c[0] for c in dbs],
            "rows": [
                _row(
                    dbs,
                    oid=5,
                    name="postgres",
                    owner_oid=10,
                    allow_connections=True,
                    connection_limit=-1,
                    acl_state="default",
                    auditor_can_connect=True,
                ),
            ],
        },
    }
    sch = DATABASE_TABLES["schemas"]
    acl = DATABASE_TABLES["acl"]
    obj = DATABASE_TABLES["objects"]
    tables = {
        "schemas": {
            "columns": [c[0] for c in sch],
            "rows": [_row(sch, oid=2200, name="public", owner_oid=10, acl_state="explicit")],
        },
        "objects": {
            "columns": [c[0] for c in obj],
            "rows": [
                _row(
                    obj,
                    object_class="relation",
                    oid=20000,
                    kind="table",
                    schema_oid=2200,
                    name="t",
                    identity_args=None,
                    owner_oid=16384,
                    acl_state="explicit",
                    extension=None,
                    trusted=None,
                )
            ],
        },
        "acl": {
            "columns": [c[0] for c in acl],
            "rows": [
                _row(
                    acl,
                    object_class="schema",
                    object_oid=2200,
                    subid=0,
                    grantor_oid=10,
                    grantee_oid=0,
                    privilege="CREATE",
                    grantable=False,
                ),
                _row(
                    acl,
                    object_class="schema",
                    object_oid=2200,
                    subid=0,
                    grantor_oid=10,
                    grantee_oid=0,
                    privilege="USAGE",
                    grantable=False,
                ),
            ],
        },
    }
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "meta": {
            "server_version_num": 160004,
            "server_version": "16.4",
            "collected_at": "2026-12-05T00:00:00+00:00",
            "connected_user": "postgres",
            "is_superuser": True,
            "target": {"host": "h", "port": 5432},
            "sources": copy.deepcopy(SOURCES_OK),
        },
        "cluster": cluster,
        "databases": [
            {"oid": 5, "name": "postgres", "status": "collected", "reason": None, "tables": tables}
        ],
    }


def assert_clean_usage_error(code: int, err: str, path: Path | str) -> None:
    assert "Traceback" not in err, err
    assert code == EXIT_USAGE, (code, err)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert str(path) in lines[0], err


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("good") / "snap.json"
    p.write_text(json.dumps(valid_doc()), encoding="utf-8")
    return p


def test_the_valid_snapshot_has_findings(
    good: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _out, err = run_cli(
        ["check", str(good), "--format", "json", "--output-dir", str(tmp_path), "-q"], capsys
    )
    assert code == 1, err  # PUBLIC CREATE on public gates: damage below must not hide it
    report = json.loads((tmp_path / "pgaudit-report.json").read_text())
    assert any(f["rule_id"] == "PGR-PRIV-001" for f in report["findings"])


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(doc: dict[str, Any]) -> None:
        node: Any = doc
        keys = path.split(".")
        for k in keys[:-1]:
            node = node[int(k)] if k.isdigit() else node[k]
        last = keys[-1]
        if last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return apply


def _append_dup(path: str) -> Callable[[dict[str, Any]], None]:
    def apply(doc: dict[str, Any]) -> None:
        node: Any = doc
        for k in path.split("."):
            node = node[int(k)] if k.isdigit() else node[k]
        node.append(copy.deepcopy(node[0]))

    return apply


DB0 = "databases.0.tables"
MUTATIONS: dict[str, Callable[[dict[str, Any]], None]] = {
    "version 99": _set("version", 99),
    "version as text": _set("version", "1"),
    "version true": _set("version", True),
    "format missing": _set("format", None),
    "meta null": _set("meta", None),
    "meta list": _set("meta", [1]),
    "sources null": _set("meta.sources", None),
    "source entry null": _set("meta.sources.roles", None),
    "source collected as text": _set("meta.sources.roles", {"collected": "yes"}),
    "server_version_num text": _set("meta.server_version_num", "abc"),
    "cluster null": _set("cluster", None),
    "databases null": _set("databases", None),
    "databases object": _set("databases", {}),
    "database null": _set("databases.0", None),
    "database oid text": _set("databases.0.oid", "abc"),
    "database name null": _set("databases.0.name", None),
    "database status unknown": _set("databases.0.status", "weird"),
    "database tables list": _set("databases.0.tables", []),
    "duplicate database": _append_dup("databases"),
    "roles table null": _set("cluster.roles", None),
    "roles columns null": _set("cluster.roles.columns", None),
    "roles rows null": _set("cluster.roles.rows", None),
    "role row truncated": _set("cluster.roles.rows.0", [1]),
    "role row object": _set("cluster.roles.rows.0", {"oid": 1}),
    "role name null": _set("cluster.roles.rows.0.1", None),
    "role oid text": _set("cluster.roles.rows.0.0", "x"),
    "role oid float": _set("cluster.roles.rows.0.0", 1.5),
    "role oid huge": _set("cluster.roles.rows.0.0", 2**80),
    "role superuser text": _set("cluster.roles.rows.0.2", "yes"),
    "role connection_limit NaN": _set("cluster.roles.rows.0.9", float("nan")),
    "role config text": _set("cluster.roles.rows.0.12", "notalist"),
    "role name with NUL": _set("cluster.roles.rows.0.1", "a\x00b"),
    "duplicate role": _append_dup("cluster.roles.rows"),
    "acl rows truncated to [[1]]": _set(f"{DB0}.acl.rows", [[1]]),
    "acl privilege null": _set(f"{DB0}.acl.rows.0.5", None),
    "acl grantee bool": _set(f"{DB0}.acl.rows.0.4", True),
    "object name null": _set(f"{DB0}.objects.rows.0.4", None),
    "unknown table": _set(f"{DB0}.nonsense", {"columns": [], "rows": []}),
    "table refers to a file outside an archive": _set(
        f"{DB0}.acl", {"columns": [c[0] for c in DATABASE_TABLES["acl"]], "file": "x.parquet"}
    ),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_damaged_snapshot_is_rejected_with_one_line(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = valid_doc()
    MUTATIONS[name](doc)
    p = tmp_path / "snap.json"
    p.write_text(json.dumps(doc), encoding="utf-8")
    code, _out, err = run_cli(["check", str(p), "-q", "--output-dir", str(tmp_path / "o")], capsys)
    assert_clean_usage_error(code, err, p)
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_rejection_names_the_place(tmp_path: Path) -> None:
    doc = valid_doc()
    MUTATIONS["acl rows truncated to [[1]]"](doc)
    with pytest.raises(
        UsageError,
        match=r"databases\[0\]\.tables\.acl\.rows\[0\]: has 1 values, "
        r"expected 7",
    ):
        snapmod.from_json(doc, "x.json")


def _raw_variants(good: bytes) -> dict[str, bytes]:
    flipped = bytearray(gzip.compress(good))
    flipped[len(flipped) // 2] ^= 0xFF
    return {
        "empty.json": b"",
        "truncated.json": good[: len(good) // 2],
        "binary.json": bytes(range(256)) * 16,
        "nested-arrays.json": b"[" * 200_000,
        "nested-objects.json": b'{"a":' * 200_000,
        "huge-number.json": b'{"format": ' + b"9" * 100_000 + b"}",
        "flipped.json.gz": bytes(flipped),
        "truncated.json.gz": gzip.compress(good)[:200],
        "latin1.json": '{"format": "caf\xe9"}'.encode("latin-1"),
    }


@pytest.mark.parametrize("name", sorted(_raw_variants(b"{}")))
def test_unreadable_snapshot_bytes(
    name: str, good: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = tmp_path / name
    p.write_bytes(_raw_variants(good.read_bytes())[name])
    code, _out, err = run_cli(["check", str(p), "-q", "--output-dir", str(tmp_path / "o")], capsys)
    assert_clean_usage_error(code, err, p)


def test_truncated_json_names_the_line(good: Path, tmp_path: Path) -> None:
    text = good.read_text()
    p = tmp_path / "t.json"
    p.write_text(text[: len(text) - 30])
    with pytest.raises(UsageError, match=r"line \d+ column \d+"):
        snapmod.load(p)


# --- archives ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def archive_members(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, bytes]]:
    snap = snapmod.from_json(valid_doc(), "valid")
    path = tmp_path_factory.mktemp("arch") / "snap.tar"
    snapmod.save(snap, path)
    with tarfile.open(path) as tar:
        out = []
        for m in tar.getmembers():
            fh = tar.extractfile(m)
            assert fh is not None
            out.append((m.name, fh.read()))
    return out


def _tar(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _archive_variants(members: list[tuple[str, bytes]]) -> dict[str, list[tuple[str, bytes]]]:
    d = dict(members)
    acl = next(n for n in d if n.endswith("/acl.parquet"))
    objects = next(n for n in d if n.endswith("/objects.parquet"))

    def swap(n: str, b: bytes) -> bytes:
        return d[objects] if n == acl else d[acl] if n == objects else b

    return {
        "garbage member": [(n, os.urandom(600) if n == acl else b) for n, b in members],
        "truncated member": [(n, b[: len(b) // 2] if n == acl else b) for n, b in members],
        "swapped members": [(n, swap(n, b)) for n, b in members],
        "missing member": [(n, b) for n, b in members if n != acl],
        "nested header": [
            (n, b"[" * 200_000 if n == snapmod.ARCHIVE_HEADER else b) for n, b in members
        ],
        "binary header": [
            (n, b"\xff\xfe\x00" if n == snapmod.ARCHIVE_HEADER else b) for n, b in members
        ],
        "header not first": [members[1], *members],
        "header with [[1]] acl": [
            (
                n,
                json.dumps(_header_acl_truncated(json.loads(b))).encode()
                if n == snapmod.ARCHIVE_HEADER
                else b,
            )
            for n, b in members
        ],
    }


def _header_acl_truncated(header: dict[str, Any]) -> dict[str, Any]:
    header["cluster"]["roles"]["rows"] = [[1]]  # inline tables of an archive are checked too
    return header


ARCHIVE_DAMAGE = [
    "garbage member",
    "truncated member",
    "swapped members",
    "missing member",
    "nested header",
    "binary header",
    "header not first",
    "header with [[1]] acl",
]


@pytest.mark.parametrize("name", ARCHIVE_DAMAGE)
def test_damaged_archive_is_rejected(
    name: str,
    archive_members: list[tuple[str, bytes]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tempfile

    variants = _archive_variants(archive_members)
    assert sorted(variants) == sorted(ARCHIVE_DAMAGE)
    p = _tar(tmp_path / "snap.tar", variants[name])
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    code, _out, err = run_cli(["check", str(p), "-q", "--output-dir", str(tmp_path / "o")], capsys)
    assert_clean_usage_error(code, err, p)
    left = list(private.iterdir())
    assert not left, f"temporary files left behind: {left}"


def test_truncated_archive(
    archive_members: list[tuple[str, bytes]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whole = _tar(tmp_path / "whole.tar", archive_members).read_bytes()
    p = tmp_path / "cut.tar"
    p.write_bytes(whole[: len(whole) // 2])
    code, _out, err = run_cli(["check", str(p), "-q"], capsys)
    assert_clean_usage_error(code, err, p)


# --- the other files the tool reads -------------------------------------------------------

BAD_TEXT: dict[str, bytes] = {
    "binary": bytes(range(256)) * 8,
    "nested-toml": b"a = " + b"[" * 200_000,
    "nested-json": b"[" * 200_000,
    "nul": b'fail_on = "high\x00"',
    "latin1": b'fail_on = "h\xe9"',
    "truncated": b'[[waiver]]\nrule = "PGR',
    "wrong-types": b"fail_on = 5\nformats = 7\n[[waiver]]\nrule = 5\n",
    "json-list": b"[1, 2]",
}


def _args_for(kind: str, path: Path, good: Path, tmp_path: Path) -> list[str]:
    out = ["-q", "--output-dir", str(tmp_path / "o")]
    if kind == "rules":
        return ["check", str(good), "--rules-dir", str(path.parent), *out]
    if kind == "report":
        return ["diff", str(path), str(path)]
    if kind == "lint":
        return ["waivers", "lint", str(path)]
    return ["check", str(good), f"--{kind}", str(path), *out]


@pytest.mark.parametrize("kind", ["config", "waivers", "baseline", "rules", "report", "lint"])
@pytest.mark.parametrize("name", sorted(BAD_TEXT))
def test_bad_bytes_in_every_input_file(
    kind: str, name: str, good: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if kind == "rules":
        (tmp_path / "rules").mkdir()
        p = tmp_path / "rules" / "ACME-ROLE-001.toml"
    else:
        p = tmp_path / f"{kind}-{name}"
    p.write_bytes(BAD_TEXT[name])
    code, _out, err = run_cli(_args_for(kind, p, good, tmp_path), capsys)
    assert_clean_usage_error(code, err, p)


REPORT_DAMAGE: dict[str, Callable[[dict[str, Any]], None]] = {
    "findings null": _set("findings", None),
    "finding null": _set("findings.0", None),
    "severity number": _set("findings.0.severity", 5),
    "fingerprint null": _set("findings.0.fingerprint", None),
    "role list": _set("findings.0.role", ["x"]),
}


@pytest.fixture(scope="module")
def good_report(good: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The JSON report of ``good``, made once: each damage test reads it and writes its own
    damaged copy (the report itself is never changed)."""
    out = tmp_path_factory.mktemp("report")
    res = cli_process(["check", str(good), "--format", "json", "--output-dir", str(out), "-q"])
    assert res.returncode == 1, res.stderr
    return out / "pgaudit-report.json"


@pytest.mark.parametrize("name", sorted(REPORT_DAMAGE))
def test_report_with_bad_findings(
    name: str, good_report: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = json.loads(good_report.read_text())
    assert report["findings"], "the damage below needs a finding to damage"
    REPORT_DAMAGE[name](report)
    p = tmp_path / "bad-report.json"
    p.write_text(json.dumps(report))
    code, _out, err = run_cli(["diff", str(good_report), str(p)], capsys)
    assert_clean_usage_error(code, err, p)


def test_baseline_with_non_text_fingerprint(
    good: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = tmp_path / "b.json"
    p.write_text(
        json.dumps(
            {"format": "pgaudit-roles/baseline", "version": 1, "findings": [{"fingerprint": 5}]}
        )
    )
    code, _out, err = run_cli(_args_for("baseline", p, good, tmp_path), capsys)
    assert_clean_usage_error(code, err, p)


# --- property-based -----------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:3]):
            out += _paths(v, (*prefix, i))
    return out


VALID_PATHS = _paths(valid_doc())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(where=st.sampled_from(VALID_PATHS), value=json_values)
def test_fuzz_snapshot_loader_replaces_any_value(where: tuple[Any, ...], value: Any) -> None:
    """Any value anywhere: the loader accepts it or raises UsageError, nothing else."""
    doc = valid_doc()
    node: Any = doc
    for k in where[:-1]:
        node = node[k]
    node[where[-1]] = value
    try:
        snap = snapmod.from_json(doc, "fuzz.json")
    except UsageError:
        return
    # accepted: then every in-memory table has rows of its declared width
    for t in [*snap.cluster.values(), *(t for d in snap.databases for t in d.tables.values())]:
        if t.in_memory:
            assert all(isinstance(r, list) and len(r) == len(t.columns) for r in t.rows)


@settings(max_examples=200, deadline=None)
@given(doc=json_values)
def test_fuzz_snapshot_loader_any_document(doc: Any) -> None:
    try:
        snapmod.from_json(doc, "fuzz.json")
    except UsageError:
        pass
    try:
        snapmod.from_json(
            {
                "format": FORMAT,
                "version": FORMAT_VERSION,
                "meta": {},
                "cluster": {"roles": doc},
                "databases": [],
            },
            "fuzz.json",
        )
    except UsageError:
        pass


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=300))
def test_fuzz_snapshot_loader_bytes(data: bytes, tmp_path: Path) -> None:
    p = tmp_path / "fuzz.json"
    p.write_bytes(data)
    with pytest.raises(UsageError):
        snapmod.load(p)
    p.write_bytes(gzip.compress(data))
    with pytest.raises(UsageError):
        snapmod.load(p)


toml_keys = st.sampled_from(
    [
        "fail_on",
        "formats",
        "output_dir",
        "waivers",
        "baseline",
        "framework",
        "rules_dirs",
        "naming",
        "rules",
        "collect",
        "remediation",
        "x",
    ]
)
toml_scalars = st.one_of(
    st.booleans(),
    st.integers(-5, 5),
    st.text(max_size=10),
    st.lists(st.text(max_size=5), max_size=3),
)


def _toml_value(v: Any) -> str:
    return json.dumps(v) if not isinstance(v, bool) else ("true" if v else "false")


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    pairs=st.lists(st.tuples(toml_keys, toml_scalars), max_size=4, unique_by=lambda p: p[0]),
    table=st.one_of(st.none(), toml_keys),
    raw=st.binary(max_size=40),
)
def test_fuzz_config_loader(
    pairs: list[tuple[str, Any]], table: str | None, raw: bytes, tmp_path: Path
) -> None:
    """Generated TOML (valid syntax, arbitrary keys and types) and raw bytes: a Config or an
    AuditError (exit 2), never another exception."""
    body = "".join(f"{k} = {_toml_value(v)}\n" for k, v in pairs)
    if table:
        body += f"[{table}]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in pairs)
    for content in (body.encode(), raw, body.encode() + raw):
        p = tmp_path / "cfg.toml"
        p.write_bytes(content)
        try:
            load_config(p, cwd=tmp_path)
        except AuditError as exc:
            assert exc.exit_code == EXIT_USAGE


@pytest.mark.parametrize("key", ["output_dir", "waivers", "baseline"])
def test_a_path_of_an_unknown_users_home_is_a_usage_error(key: str, tmp_path: Path) -> None:
    """``~name`` of a user this machine does not know cannot be expanded (pathlib raises
    RuntimeError): one line naming the path, exit 2 (found by test_fuzz_config_loader)."""
    p = tmp_path / "cfg.toml"
    p.write_text(f'{key} = "~no-such-user-0/x"\n', encoding="utf-8")
    with pytest.raises(AuditError) as exc:
        load_config(p, cwd=tmp_path)
    assert exc.value.exit_code == EXIT_USAGE
    assert "~no-such-user-0/x" in str(exc.value) and "\n" not in str(exc.value)


# --- writing where it cannot be written -------------------------------------------------


def _mount_tmpfs(where: Path, *opts: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", ",".join(["size=64k", *opts]), "tmpfs", str(where)],
        capture_output=True,
    )
    return res.returncode == 0


@pytest.fixture
def full_dir(tmp_path: Path) -> Any:
    """A directory whose filesystem holds 64 KiB (tmpfs), else skip."""
    d = tmp_path / "full"
    if os.geteuid() != 0 or not _mount_tmpfs(d):
        pytest.skip("needs root to mount a small tmpfs")
    try:
        yield d
    finally:
        subprocess.run(["umount", str(d)], capture_output=True)


@pytest.fixture
def ro_dir(tmp_path: Path) -> Any:
    d = tmp_path / "ro"
    if os.geteuid() != 0:
        d.mkdir()
        d.chmod(0o555)
        yield d
        d.chmod(0o755)
        return
    if not _mount_tmpfs(d, "ro"):
        pytest.skip("cannot mount a read-only tmpfs")
    try:
        yield d
    finally:
        subprocess.run(["umount", str(d)], capture_output=True)


@pytest.mark.parametrize("command", ["check-output-dir", "baseline", "diff"])
def test_full_disk_leaves_no_file(
    command: str, full_dir: Path, good: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = good
    target = full_dir / "out.json"
    args = {
        "check-output-dir": [
            "check",
            str(src),
            "--format",
            "json,html",
            "--output-dir",
            str(full_dir / "reports"),
            "-q",
        ],
        "baseline": ["baseline", "create", str(src), "-o", str(target)],
        "diff": ["diff", str(src), str(src), "--format", "json", "-o", str(target)],
    }[command]
    (full_dir / "filler").write_bytes(b"\0" * 62_000)  # what is left holds no report
    code, _out, err = run_cli(args, capsys)
    assert code == EXIT_USAGE, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "No space left on device" in err
    left = [p.name for p in full_dir.rglob("*") if p.is_file() and p.name != "filler"]
    assert left == [], left


@pytest.mark.parametrize("command", ["check-output-dir", "baseline", "diff"])
def test_read_only_location(
    command: str, ro_dir: Path, good: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = ro_dir / "out.json"
    args = {
        "check-output-dir": [
            "check",
            str(good),
            "--format",
            "json",
            "--output-dir",
            str(ro_dir / "reports"),
            "-q",
        ],
        "baseline": ["baseline", "create", str(good), "-o", str(target)],
        "diff": ["diff", str(good), str(good), "-o", str(target)],
    }[command]
    code, _out, err = run_cli(args, capsys)
    assert code == EXIT_USAGE, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert str(ro_dir) in err
    assert list(ro_dir.iterdir()) == []


@pytest.mark.parametrize(
    "args",
    [
        ["check", "{good}", "--format", "json", "--output-dir", "-", "-q"],
        ["diff", "{good}", "{good}"],
        ["baseline", "create", "{good}", "-o", "/dev/full"],
    ],
)
def test_dev_full(args: list[str], good: Path) -> None:
    """Through a real process: stdout is /dev/full, so even the final flush fails."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    import sys

    argv = [a.replace("{good}", str(good)) for a in args]
    with open("/dev/full", "w") as full:
        res = subprocess.run(
            [sys.executable, "-m", "pgaudit_roles.cli", *argv],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert res.returncode == EXIT_USAGE, res.stderr
    assert "Traceback" not in res.stderr and "Exception ignored" not in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "No space left on device" in res.stderr
    assert os.path.exists("/dev/full") and not os.path.isfile("/dev/full")


def test_internal_error_is_exit_4_with_one_line(
    good: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom(*_a: Any, **_k: Any) -> None:
        raise ZeroDivisionError("bug \u202e here\x1b[31m")

    monkeypatch.setattr(check_cmd, "load", boom)
    code, _out, err = run_cli(["check", str(good), "-q"], capsys)
    assert code == EXIT_INTERNAL
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "\u202e" not in err and "\x1b" not in err and "ZeroDivisionError" in err
    code, _out, err = run_cli(["-v", "check", str(good), "-q"], capsys)
    assert code == EXIT_INTERNAL and "Traceback" in err


@pytest.mark.parametrize("name", sorted(BAD_TEXT))
@pytest.mark.parametrize("major", [13, 16, 18])
def test_bad_bytes_in_an_hba_file(name: str, major: int, tmp_path: Path) -> None:
    """--hba-file: a UsageError naming the file, or rows; never another exception."""
    from pgaudit_roles.collect.hba import parse_hba_file

    p = tmp_path / "pg_hba.conf"
    p.write_bytes(BAD_TEXT[name])
    try:
        rows = parse_hba_file(str(p), major)
    except UsageError as exc:
        assert str(p) in str(exc)
    else:
        assert all(r["error"] or r["type"] for r in rows)


def test_huge_inputs(good: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Several megabytes of one string or of nesting-free junk: one line, exit 2."""
    big = b'x = "' + b"a" * (8 * 1024 * 1024) + b'"\n'
    for kind in ("config", "waivers", "baseline"):
        p = tmp_path / f"huge-{kind}"
        p.write_bytes(big)
        code, _out, err = run_cli(_args_for(kind, p, good, tmp_path), capsys)
        assert_clean_usage_error(code, err, p)
    p = tmp_path / "huge.json"
    p.write_bytes(b"[" + b"1," * (4 * 1024 * 1024) + b"1]")
    code, _out, err = run_cli(["check", str(p), "-q"], capsys)
    assert_clean_usage_error(code, err, p)


def test_every_column_type_has_a_check() -> None:
    """A new snapshot column of a new type must get a value check, not a KeyError."""
    from pgaudit_roles.collect.snapshot_check import check_for

    for spec in (*CLUSTER_TABLES.values(), *DATABASE_TABLES.values()):
        for _name, ty, _doc in spec:
            assert check_for(ty)(object()) is not None, ty
