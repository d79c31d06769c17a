"""Snapshots and reports honour the umask; snapshots are 0600 at most (issue 12).

Atomic writes go through mkstemp, whose 0600 would ignore a umask of 022 and whose fixed
chmod 0644 ignored 077: the modes are checked under both. Pure logic, no server.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_bad_input import run_cli, valid_doc

from pgaudit_roles.collect import snapshot as snapmod


@pytest.fixture(params=[0o077, 0o022, 0o027], ids=["umask077", "umask022", "umask027"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@pytest.mark.parametrize("suffix", [".json", ".json.gz", ".tar"])
def test_snapshot_mode(umask: int, suffix: str, tmp_path: Path) -> None:
    snap = snapmod.from_json(valid_doc(), "valid")
    p = tmp_path / f"snap{suffix}"
    snapmod.save(snap, p)
    assert mode(p) == 0o600 & ~umask
    # replacing an existing, more open file does not keep its mode
    p.chmod(0o666)
    snapmod.save(snap, p)
    assert mode(p) == 0o600 & ~umask


def test_reports_baseline_and_diff_modes(
    umask: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "snap.json"
    src.write_text(json.dumps(valid_doc()))
    out = tmp_path / "reports"
    code, _o, err = run_cli(
        [
            "check",
            str(src),
            "--format",
            "json,html,junit,sarif,sql,text",
            "--output-dir",
            str(out),
            "-q",
        ],
        capsys,
    )
    assert code in (0, 1), err
    files = [p for p in out.iterdir() if p.is_file()]
    assert len(files) >= 5
    for p in files:
        assert mode(p) == 0o666 & ~umask, p
    code, _o, err = run_cli(
        ["baseline", "create", str(src), "-o", str(tmp_path / "b.json")], capsys
    )
    assert code == 0, err
    assert mode(tmp_path / "b.json") == 0o666 & ~umask
    code, _o, err = run_cli(["diff", str(src), str(src), "-o", str(tmp_path / "d.txt")], capsys)
    assert code == 0, err
    assert mode(tmp_path / "d.txt") == 0o666 & ~umask


def test_write_through_a_device(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """-o /dev/null writes through it: the device node is never replaced by a file."""
    src = tmp_path / "snap.json"
    src.write_text(json.dumps(valid_doc()))
    code, _o, err = run_cli(["baseline", "create", str(src), "-o", os.devnull], capsys)
    assert code == 0, err
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
