"""``localpg.probe_install`` remembers an install per binary, without a server.

The binaries here are shell scripts that count their runs: ``postgres --version`` runs
once per binary and process, again when the binary is replaced, and a failing probe is
never remembered.
"""

from __future__ import annotations

import os
from pathlib import Path

from pgaudit_roles.core.localpg import probe_install


def _fake_bin(tmp: Path, body: str) -> tuple[Path, Path]:
    """A bin directory whose ``postgres`` runs ``body`` and appends a line to a counter."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    runs = tmp / "runs"
    for name in ("initdb", "pg_ctl"):
        (bin_dir / name).write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    _write_postgres(bin_dir, runs, body)
    return bin_dir, runs


def _write_postgres(bin_dir: Path, runs: Path, body: str) -> None:
    postgres = bin_dir / "postgres"
    postgres.write_text(f"#!/bin/sh\necho run >> '{runs}'\n{body}\n", encoding="utf-8")
    os.chmod(postgres, 0o755)


def _count(runs: Path) -> int:
    return len(runs.read_text(encoding="utf-8").splitlines()) if runs.exists() else 0


def test_an_install_is_probed_once_per_binary(tmp_path: Path) -> None:
    bin_dir, runs = _fake_bin(tmp_path, "echo 'postgres (PostgreSQL) 16.4'")
    first = probe_install(bin_dir)
    assert first is not None and (first.major, first.version) == (16, "16.4")
    assert first.bin_dir == bin_dir
    again = probe_install(bin_dir)
    assert again == first and _count(runs) == 1
    # the binary upgraded in place: another identity, probed again, the new version
    _write_postgres(bin_dir, runs, "echo 'postgres (PostgreSQL) 17.2 (Debian 17.2-1.pgdg120+1)'")
    upgraded = probe_install(bin_dir)
    assert upgraded is not None and (upgraded.major, upgraded.version) == (17, "17.2")
    assert _count(runs) == 2
    # the same binary through another directory name is that directory's install
    link = tmp_path / "linked"
    link.symlink_to(bin_dir, target_is_directory=True)
    through_link = probe_install(link)
    assert through_link is not None and through_link.bin_dir == link
    assert through_link.major == 17 and _count(runs) == 3


def test_a_failed_probe_is_not_remembered(tmp_path: Path) -> None:
    bin_dir, runs = _fake_bin(tmp_path, "exit 1")
    assert probe_install(bin_dir) is None
    assert probe_install(bin_dir) is None
    assert _count(runs) == 2
    (bin_dir / "pg_ctl").unlink()
    assert probe_install(bin_dir) is None and _count(runs) == 2  # not even run: no pg_ctl
