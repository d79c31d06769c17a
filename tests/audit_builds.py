"""One audit-schema build per snapshot and table list, shared by a test's command runs.

Why: who-can, explain and paths build the audit schema of the snapshot file they are given
(``commands.query.audit_connection``), and a build is most of such a run's CPU on a test
snapshot. Tests that run several commands on one file and read only their output share the
build instead: the first run that asks for a set of tables builds it, the others read it.
That each command's own partial build gives the whole schema's answer is
tests/test_partial_commands.py's to prove.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from pgaudit_roles.commands import query


class Kept:
    """A shared connection the command may close: it stays open for the next run."""

    def __init__(self, con: Any) -> None:
        self._con = con

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)

    def close(self) -> None:
        pass


def _key(snap: Any, naming: Any, queries: list[str] | None) -> tuple[str, str, Any]:
    """The snapshot by its metadata (target, collection time, sources: another file of
    another collection differs), the naming policy and the tables asked for."""
    meta = json.dumps(snap.meta, sort_keys=True, default=str)
    return meta, repr(naming), None if queries is None else tuple(queries)


@contextlib.contextmanager
def built_once(builds: dict[Any, Any]) -> Iterator[None]:
    """Within the block, a command's audit schema is the one ``builds`` holds for the
    same snapshot and tables, built by the first run that asked (the caller closes them:
    :func:`close_all`)."""
    real = query.audit_connection

    def shared(snap: Any, naming: Any, queries: list[str] | None = None) -> Any:
        key = _key(snap, naming, queries)
        if key not in builds:
            builds[key] = real(snap, naming, queries)
        return Kept(builds[key])

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(query, "audit_connection", shared)
        yield


def close_all(builds: dict[Any, Any]) -> None:
    for con in builds.values():
        con.close()
    builds.clear()
