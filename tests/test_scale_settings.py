"""Settings that keep a large scan bounded, without a server: DuckDB's memory cap and
spill directory, the ``jobs`` setting, and the JSON parse-tree check of remediation SQL."""

from __future__ import annotations

import contextlib
import gc
import os
import threading
import time

import pytest

from pgaudit_roles.audit import audit_schema
from pgaudit_roles.config import config_from_mapping
from pgaudit_roles.core.errors import ConfigError, UsageError
from pgaudit_roles.evaluate.remediation import RemediationError, check_sql


def _setting(con, name: str) -> str:
    return str(con.execute(f"SELECT current_setting('{name}')").fetchone()[0])


def test_audit_connection_is_capped_and_spills_to_its_own_directory(monkeypatch):
    monkeypatch.delenv("PGAUDIT_ROLES_MEMORY_LIMIT", raising=False)
    con = audit_schema.new_connection()
    assert _setting(con, "memory_limit") in ("488.2 MiB", "512.0 MiB", "512MB", "488.2MiB")
    spill = _setting(con, "temp_directory")
    assert os.path.isdir(spill) and os.path.basename(spill).startswith("pgaudit-duckdb-")
    assert _setting(con, "enable_progress_bar").lower() == "false"
    assert _setting(con, "preserve_insertion_order").lower() == "false"
    # Past the cap DuckDB spills instead of failing: a sort of 15 M rows (about twice what
    # fits in 512 MB; 6 M rows sort without spilling) succeeds, and a file appears in the
    # spill directory while it runs (watched from a thread: DuckDB releases the GIL).
    seen: list[str] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set() and not seen:
            with contextlib.suppress(FileNotFoundError):
                seen.extend(os.listdir(spill))
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        count = con.execute(
            "SELECT count(*) FROM (SELECT i, repeat('x', 20) || i AS s "
            "FROM range(15000000) r(i) ORDER BY s DESC)"
        ).fetchone()[0]
    finally:
        done.set()
        watcher.join()
    assert count == 15_000_000
    assert seen, "the sort did not spill: the memory cap was not reached"
    con.close()
    del con
    gc.collect()
    assert not os.path.exists(spill)


def test_memory_limit_can_be_raised_and_a_bad_one_is_one_line(monkeypatch):
    monkeypatch.setenv("PGAUDIT_ROLES_MEMORY_LIMIT", "2GB")
    con = audit_schema.new_connection()
    assert _setting(con, "memory_limit").startswith(("1.8 GiB", "2.0 GiB", "1.8GiB"))
    con.close()
    monkeypatch.setenv("PGAUDIT_ROLES_MEMORY_LIMIT", "lots")
    with pytest.raises(UsageError) as info:
        audit_schema.new_connection()
    assert "PGAUDIT_ROLES_MEMORY_LIMIT='lots'" in str(info.value)
    assert "\n" not in str(info.value)


def test_collect_jobs_in_config():
    cfg = config_from_mapping({"collect": {"jobs": 4}})
    assert cfg.collect["jobs"] == 4
    for bad in (0, 33, "4", True):
        with pytest.raises(ConfigError, match="collect.jobs"):
            config_from_mapping({"collect": {"jobs": bad}})


@pytest.mark.parametrize(
    "sql, fragment",
    [
        ("DROP OWNED BY app CASCADE;", "CASCADE is not allowed"),
        ("REVOKE ALL ON SCHEMA s FROM PUBLIC CASCADE;", "CASCADE is not allowed"),
        ("ALTER ROLE app PASSWORD 'hunter2';", "never carry a password"),
        ("CREATE ROLE app LOGIN ENCRYPTED PASSWORD 'x';", "never carry a password"),
        ("ALTER TABLE t DROP COLUMN c;", "ALTER TABLE ... AT_DropColumn"),
        ("DELETE FROM t;", "DeleteStmt is not allowed"),
        ("GRANT SELECT ON t TO r; SELECT 1;", "SelectStmt is not allowed"),
    ],
)
def test_check_sql_refuses_from_the_json_parse_tree(sql, fragment):
    with pytest.raises(RemediationError, match=fragment.replace(".", r"\.")):
        check_sql(sql)


def test_check_sql_splits_statements_with_unicode_names_by_byte_offsets():
    sql = (
        'GRANT SELECT ON "sch ü"."tab 名前" TO "rôle;x";\n'
        'ALTER TABLE "ü"."t" OWNER TO "ö";\n'
        "ALTER ROLE r PASSWORD NULL"
    )
    assert check_sql(sql) == [
        'GRANT SELECT ON "sch ü"."tab 名前" TO "rôle;x"',
        'ALTER TABLE "ü"."t" OWNER TO "ö"',
        "ALTER ROLE r PASSWORD NULL",
    ]


def test_out_of_memory_names_the_setting(monkeypatch):
    from pgaudit_roles.collect.snapshot import Snapshot
    from pgaudit_roles.evaluate.engine import _memory_hint

    monkeypatch.setenv("PGAUDIT_ROLES_MEMORY_LIMIT", "3MB")
    assert "PGAUDIT_ROLES_MEMORY_LIMIT" in _memory_hint(RuntimeError("Out of Memory Error: x"))
    assert "capped at 3MB" in _memory_hint(RuntimeError("Out of Memory Error: x"))
    assert _memory_hint(RuntimeError("Binder Error: no column")) == ""
    with pytest.raises(UsageError) as info:
        audit_schema.load(Snapshot(meta={}, cluster={}, databases=[]))
    assert "PGAUDIT_ROLES_MEMORY_LIMIT" in str(info.value) and "3MB" in str(info.value)
    assert "\n" not in str(info.value)
