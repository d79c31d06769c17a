"""The Snapshot: everything the collector read from one cluster, as plain versioned data.

``collect`` writes it, ``check`` reads it, so rules run without a server and a fleet can be
evaluated anywhere. Tables are stored column-wise-described and row-wise-listed
(``{"columns": [...], "rows": [[...], ...]}``): compact, streamable, and loadable into
DuckDB without per-row dict overhead.

The tables and their columns (the contract every stage reads) are defined in ``tables``;
this module holds the Snapshot itself, its meta data and its file formats.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..core.atomic import SNAPSHOT_MODE, atomic_writer, open_maybe_gzip
from ..core.errors import UsageError
from .columnfile import duckdb_literal, reader_sql, scratch_connection
from .snapshot_check import (
    check_database,
    check_meta,
    check_parquet,
    check_rows,
    check_unique,
)
from .snapshot_check import fail as snapshot_fail
from .spool import Spool
from .tables import CLUSTER_TABLES, DATABASE_TABLES, Column, Table, empty_table

FORMAT = "pgaudit-roles/snapshot"
FORMAT_VERSION = 1

SOURCES = (
    "roles",
    "memberships",
    "db_role_settings",
    "databases",
    "tablespaces",
    "shared_acl",
    "settings",
    "activity",
    "hba_rules",
    "password_types",
    "objects",
    "policies",
    "triggers",
    "user_mappings",
)
"""Names that ``meta.sources`` reports on (collected or not, and why)."""


@dataclass
class DatabaseSnapshot:
    """What was read from one database, or why it was not read."""

    oid: int
    name: str
    status: str  # "collected" | "not_collected"
    reason: str | None = None
    tables: dict[str, Table] = field(default_factory=dict)
    connect_failed: bool = field(default=False, compare=False)
    """Collection only (not saved): the session could not be opened at all."""

    def table(self, name: str) -> Table:
        # never ``get(name) or ...``: a Table's truth is its length, which for a
        # file-backed table means reading the whole file to count its rows
        found = self.tables.get(name)
        return found if found is not None else empty_table(DATABASE_TABLES[name])


@dataclass
class Snapshot:
    """One collection: its metadata, the cluster-wide tables and each database's."""

    meta: dict[str, Any]
    cluster: dict[str, Table]
    databases: list[DatabaseSnapshot]
    spool: Any = field(default=None, repr=False, compare=False)
    """The Spool (temporary directory) the file-backed tables live in, kept alive here."""
    archive_members: dict[str, tuple[str, str]] = field(
        default_factory=dict, repr=False, compare=False
    )
    """For a snapshot read from an archive: each local column file's archive and member
    name, so that a member DuckDB cannot read is reported as the damaged input it is
    (``damaged_member``), not as an internal error."""

    def table(self, name: str) -> Table:
        found = self.cluster.get(name)  # not ``or``: see DatabaseSnapshot.table
        return found if found is not None else empty_table(CLUSTER_TABLES[name])

    def source_collected(self, name: str) -> bool:
        src = self.meta.get("sources", {}).get(name)
        return bool(src and src.get("collected"))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "meta": self.meta,
            "cluster": {k: v.to_json() for k, v in self.cluster.items()},
            "databases": [
                {
                    "oid": d.oid,
                    "name": d.name,
                    "status": d.status,
                    "reason": d.reason,
                    "tables": {k: v.to_json() for k, v in d.tables.items()},
                }
                for d in self.databases
            ],
        }


def save(snapshot: Snapshot, path: str | os.PathLike[str]) -> None:
    """Write atomically. ``.tar``: a columnar archive (see :func:`save_archive`); else JSON,
    gzip when the name ends in .gz, rows streamed one per line."""
    if is_archive_name(path):
        save_archive(snapshot, path)
        return
    with atomic_writer(path, mode=SNAPSHOT_MODE) as fh:
        for chunk in _iter_json(snapshot):
            fh.write(chunk)


ARCHIVE_HEADER = "snapshot.json"
"""First member of a snapshot archive: the JSON document, per-database tables by reference."""


def is_archive_name(path: str | os.PathLike[str]) -> bool:
    return str(path).endswith(".tar")


def save_archive(snapshot: Snapshot, path: str | os.PathLike[str]) -> None:
    """A tar of ``snapshot.json`` plus one zstd Parquet file per per-database table.

    Why: at a million tables the JSON form is gigabytes and must be parsed whole, while
    Parquet is compressed, columnar, and read by DuckDB without Python touching a row. The
    tar container streams (``tar -tvf`` lists it; ``check`` reads it front to back), and
    the header comes first so a reader knows every member before it arrives. Cluster-wide
    tables stay inline in the header: they are small and often read from Python.
    """
    import tarfile

    work = Spool(prefix="pgaudit-archive-")
    con = scratch_connection(threads=None)  # Parquet encoding uses every core
    try:
        members: list[tuple[str, str]] = []
        dbdocs = []
        for d in snapshot.databases:
            tables: dict[str, Any] = {}
            for name, t in d.tables.items():
                spec = DATABASE_TABLES[name]
                arcname = f"databases/{d.oid}/{name}.parquet"
                local = work.new_file(f"{d.oid}-{name}", ".parquet")
                types = [c[1] for c in spec]
                if t.file is not None and t.types is not None:
                    select = reader_sql([t.file], t.columns, t.types, t.file_format)
                    written = con.execute(
                        f"COPY ({select}) TO {duckdb_literal(local)} "  # noqa: S608
                        "(FORMAT parquet, COMPRESSION zstd)"
                    ).fetchone()
                    if written is not None:  # the count comes free with the copy
                        t.remember_count(int(written[0]))
                else:
                    _rows_to_parquet(con, t, types, local)
                members.append((arcname, local))
                tables[name] = {"columns": t.columns, "file": arcname, "row_count": len(t)}
            dbdocs.append(
                {
                    "oid": d.oid,
                    "name": d.name,
                    "status": d.status,
                    "reason": d.reason,
                    "tables": tables,
                }
            )
        header = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "storage": "archive",
            "meta": snapshot.meta,
            "cluster": {k: v.to_json() for k, v in snapshot.cluster.items()},
            "databases": dbdocs,
        }
        head_file = work.new_file("header", ".json")
        with open(head_file, "w", encoding="utf-8") as fh:
            json.dump(header, fh, default=str, ensure_ascii=False, sort_keys=False)
        with (
            atomic_writer(path, binary=True, compress=False, mode=SNAPSHOT_MODE) as raw,
            tarfile.open(fileobj=raw, mode="w|", format=tarfile.PAX_FORMAT) as tar,
        ):
            for arcname, local in [(ARCHIVE_HEADER, head_file), *members]:
                info = tar.gettarinfo(local, arcname)
                info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
                info.mode = 0o644
                with open(local, "rb") as src:
                    tar.addfile(info, src)
    finally:
        con.close()
        work.cleanup()


def _rows_to_parquet(con: Any, t: Table, types: list[str], local: str) -> None:
    """In-memory rows (a JSON snapshot, a test) to Parquet with the table's DuckDB types."""

    cols = ", ".join(f'"{c}" {ty}' for c, ty in zip(t.columns, types, strict=True))
    con.execute(f"CREATE OR REPLACE TEMP TABLE _t ({cols})")
    if t.rows:
        sel = ", ".join(f"unnest(${i + 1}::{ty}[])" for i, ty in enumerate(types))
        data = [[r[i] for r in t.rows] for i in range(len(types))]
        con.execute(f"INSERT INTO _t SELECT {sel}", data)  # noqa: S608 - typed constants
    con.execute(f"COPY _t TO {duckdb_literal(local)} (FORMAT parquet, COMPRESSION zstd)")


def load_archive(path: str | os.PathLike[str], spool: Spool | None = None) -> Snapshot:
    """Read a snapshot archive: its Parquet members go into a Spool (``spool``, or a new
    one), never into Python."""
    import tarfile
    import zlib

    spool = spool if spool is not None else Spool()
    header: Any = None
    files: dict[str, str] = {}
    try:
        with tarfile.open(path, mode="r|") as tar:
            for member in tar:
                if not member.isfile():
                    raise UsageError(
                        f"{path}: snapshot archive member {member.name!r} is not a regular file"
                    )
                src = tar.extractfile(member)
                if src is None:  # pragma: no cover - isfile() above
                    continue
                if member.name == ARCHIVE_HEADER and header is None:
                    try:
                        header = json.load(src)
                    except RecursionError:
                        raise UsageError(f"{path}: {ARCHIVE_HEADER} is nested too deeply") from None
                    continue
                if header is None:
                    raise UsageError(
                        f"{path}: snapshot archive does not start with {ARCHIVE_HEADER}"
                    )
                local = spool.new_file(member.name.replace("/", "-"), ".parquet")
                with open(local, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
                files[member.name] = local
    except FileNotFoundError:
        raise UsageError(f"snapshot file not found: {path}") from None
    except (OSError, tarfile.TarError, ValueError, EOFError, zlib.error) as exc:
        spool.cleanup()
        raise UsageError(f"{path}: not a readable snapshot archive ({exc})") from None
    except BaseException:
        spool.cleanup()
        raise
    if header is None:
        spool.cleanup()
        raise UsageError(f"{path}: snapshot archive has no {ARCHIVE_HEADER}")
    try:
        snap = from_json(header, str(path), files=files)
        for d in snap.databases:
            for name, t in d.tables.items():
                if t.file is not None:
                    arcname = next(m for m, f in files.items() if f == t.file)
                    check_parquet(str(path), arcname, t.file, DATABASE_TABLES[name])
    except BaseException:
        spool.cleanup()
        raise
    snap.spool = spool
    snap.archive_members = {local: (str(path), member) for member, local in files.items()}
    return snap


def damaged_member(snapshot: Snapshot, exc: BaseException) -> UsageError | None:
    """The one-line error (exit 2) for ``exc`` when it is DuckDB failing to read one of
    ``snapshot``'s archive members: Parquet whose pages are damaged passes the header
    checks of :func:`load_archive` (reading every page there would read the snapshot
    twice) and fails where the audit schema reads it. None for any other error."""
    text = " ".join(str(exc).split())
    for local, (archive, member) in snapshot.archive_members.items():
        if local in text:
            reason = text.split(local, 1)[1].lstrip('"').lstrip(":").strip() or text
            return UsageError(
                f"{archive}: snapshot archive member {member!r} cannot be read ({reason})"
            )
    return None


def _iter_json(s: Snapshot) -> Iterable[str]:
    dump = json.dumps
    meta = dump(s.meta, sort_keys=True, default=str)
    yield f'{{"format": {dump(FORMAT)}, "version": {FORMAT_VERSION},\n "meta": {meta},\n "cluster": {{'
    yield from _iter_tables(s.cluster)
    yield '},\n "databases": ['
    for i, d in enumerate(s.databases):
        head = (
            f'{{"oid": {d.oid}, "name": {dump(d.name)}, "status": {dump(d.status)}, '
            f'"reason": {dump(d.reason)}, "tables": {{'
        )
        yield ("," if i else "") + "\n  " + head
        yield from _iter_tables(d.tables)
        yield "}}"
    yield "\n ]}\n"


def _iter_tables(tables: dict[str, Table]) -> Iterable[str]:
    dump = json.dumps
    for i, (name, t) in enumerate(tables.items()):
        yield ("," if i else "") + f'\n  {dump(name)}: {{"columns": {dump(t.columns)}, "rows": ['
        lines = t.json_lines()  # a column file's rows come as text from DuckDB
        if lines:
            yield "\n   " + ",\n   ".join(lines)
        yield "]}"


def load(path: str | os.PathLike[str], spool: Spool | None = None) -> Snapshot:
    """Read and validate a snapshot file (JSON, gzip JSON or archive). Bad input is a
    UsageError. ``spool``: where an archive's members go (``collect.forked`` passes the
    parent's); a JSON snapshot's rows are read into memory."""
    if is_archive(path):
        return load_archive(path, spool)
    import zlib

    try:
        with open_maybe_gzip(path) as fh:
            doc = json.load(fh)
    except FileNotFoundError:
        raise UsageError(f"snapshot file not found: {path}") from None
    except RecursionError:
        raise UsageError(f"{path}: not a readable snapshot JSON file (nested too deeply)") from None
    except (OSError, ValueError, EOFError, zlib.error) as exc:
        raise UsageError(f"{path}: not a readable snapshot JSON file ({exc})") from None
    return from_json(doc, str(path))


def is_archive(path: str | os.PathLike[str]) -> bool:
    """Whether :func:`load` reads ``path`` as an archive (by its name or its content)."""
    return is_archive_name(path) or is_archive_file(path)


def is_archive_file(path: str | os.PathLike[str]) -> bool:
    """By content, not name: a POSIX tar has ``ustar`` at offset 257."""
    try:
        with open(path, "rb") as fh:
            fh.seek(257)
            return fh.read(5) == b"ustar"
    except OSError:
        return False


def from_json(doc: Any, origin: str = "snapshot", files: dict[str, str] | None = None) -> Snapshot:
    """The Snapshot of a parsed document; ``files`` maps archive member names to local
    Parquet files (only an archive's header may refer to files). Every shape and value is
    checked first (``snapshot_check``): a damaged file is a UsageError, never a partial
    load."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise UsageError(f"{origin}: not a pgaudit-roles snapshot (format field missing or wrong)")
    if type(doc.get("version")) is not int or doc.get("version") != FORMAT_VERSION:
        raise UsageError(
            f"{origin}: snapshot version {doc.get('version')!r} is not supported "
            f"(this pgaudit-roles reads version {FORMAT_VERSION})"
        )
    meta = check_meta(origin, doc.get("meta"))
    if not isinstance(doc.get("cluster"), dict):
        raise snapshot_fail(origin, "cluster", "expected an object of tables")
    if not isinstance(doc.get("databases"), list):
        raise snapshot_fail(origin, "databases", "expected a list of databases")
    cluster = {
        k: _table(v, CLUSTER_TABLES, k, origin, where=f"cluster.{k}")
        for k, v in doc["cluster"].items()
    }
    dbs = []
    for n, d in enumerate(doc["databases"]):
        check_database(origin, n, d)
        dbs.append(
            DatabaseSnapshot(
                oid=d["oid"],
                name=d["name"],
                status=d["status"],
                reason=d.get("reason"),
                tables={
                    k: _table(
                        v, DATABASE_TABLES, k, origin, files, where=f"databases[{n}].tables.{k}"
                    )
                    for k, v in d.get("tables", {}).items()
                },
            )
        )
    check_unique(origin, "databases[].oid", [d.oid for d in dbs])
    for name in ("roles", "databases"):
        t = cluster.get(name)
        if t is not None and t.in_memory:
            check_unique(origin, f"cluster.{name}.rows[].oid", [r[0] for r in t.rows])
    return Snapshot(meta=meta, cluster=cluster, databases=dbs)


def _table(
    obj: Any,
    spec: dict[str, list[Column]],
    name: str,
    origin: str,
    files: dict[str, str] | None = None,
    *,
    where: str = "",
) -> Table:
    where = where or name
    if name not in spec:
        raise UsageError(f"{origin}: unknown table {name!r} in snapshot")
    if not isinstance(obj, dict):
        raise snapshot_fail(origin, where, "expected an object with columns and rows")
    cols = [c[0] for c in spec[name]]
    if obj.get("columns") != cols:
        raise UsageError(
            f"{origin}: table {name!r} has columns {obj.get('columns')!r}, expected {cols!r}"
        )
    if "file" in obj:
        member = obj["file"]
        if files is None or not isinstance(member, str) or member not in files:
            raise UsageError(
                f"{origin}: table {name!r} refers to {member!r}, which is not in the archive"
            )
        count = obj.get("row_count")
        return Table(
            cols,
            file=files[member],
            file_format="parquet",
            types=[c[1] for c in spec[name]],
            count=count if type(count) is int and count >= 0 else None,
        )
    rows = obj.get("rows")
    if not isinstance(rows, list):
        raise UsageError(f"{origin}: table {name!r} has no row list")
    check_rows(origin, where, name, spec[name], rows)
    return Table(columns=cols, rows=rows)
