"""PGR-SET-001 names the file of each pg_hba line when pg_hba.conf includes others (a legacy
``include_dir`` next to the main file). Line 2 of an included file is not line
2 of pg_hba.conf; the list follows the server's evaluation order. Pure logic: the file is
parsed as ``--hba-file`` reads it and evaluated on a synthetic snapshot, no server."""

from __future__ import annotations

from pathlib import Path

from test_audit_schema import make

from pgaudit_roles.collect.collector import redact_hba_options
from pgaudit_roles.collect.hba import parse_hba_file
from pgaudit_roles.collect.snapshot import CLUSTER_TABLES
from pgaudit_roles.evaluate.engine import evaluate
from pgaudit_roles.evaluate.rules import load_rules


def _hba_rows(path: Path) -> list[dict]:
    columns = [c[0] for c in CLUSTER_TABLES["hba_rules"]]
    out = []
    for r in parse_hba_file(str(path), 16):
        row = {c: r.get(c) for c in columns}
        row["options"] = redact_hba_options(row["options"])
        out.append(row)
    return out


def _set001(hba: Path) -> list[str]:
    snap = make(
        extra={
            "hba_rules": _hba_rows(hba),
            "settings": [{"name": "ssl", "setting": "off", "source": "default"}],
        },
        meta={"sources": {k: {"collected": True} for k in ("roles", "hba_rules", "settings")}},
    )
    rules = [r for r in load_rules() if r.id == "PGR-SET-001"]
    (rr,) = evaluate(snap, rules).results
    return [f.message for f in rr.findings]


def test_included_lines_are_named_by_file(tmp_path: Path) -> None:
    (tmp_path / "hba.d").mkdir()
    (tmp_path / "hba.d" / "10-legacy.conf").write_text(
        "# copied from the wiki\nhost all all 10.0.0.0/8 trust\n", encoding="utf-8"
    )
    main = tmp_path / "pg_hba.conf"
    main.write_text(
        "local all all peer\nhost all all 192.168.0.0/16 scram-sha-256\n"
        "include_dir hba.d\nhost all all 0.0.0.0/0 md5\n",
        encoding="utf-8",
    )
    (msg,) = _set001(main)
    assert "on 3 line(s): pg_hba.conf:2 (host all all 192.168.0.0/16 scram-sha-256)" in msg
    assert "10-legacy.conf:2 (host all all 10.0.0.0/8 trust), pg_hba.conf:4 (" in msg


def test_one_file_keeps_bare_line_numbers(tmp_path: Path) -> None:
    main = tmp_path / "pg_hba.conf"
    main.write_text(
        "local all all peer\nhost all all 10.1.0.0/16 scram-sha-256\n", encoding="utf-8"
    )
    (msg,) = _set001(main)
    assert "on 1 line(s): 2 (host all all 10.1.0.0/16 scram-sha-256)" in msg
