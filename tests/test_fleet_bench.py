"""The fleet benchmark's measurement helpers, without a server: sessions read back from a
server log (log_connections / log_disconnections with the harness's log_line_prefix) and
the most sessions open at once."""

from __future__ import annotations

import sys
from pathlib import Path

from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))

import fleet_bench as fb  # noqa: E402

LOG = """\
2026-12-05 06:00:00.100 UTC [101] app=[unknown] user=[unknown] db=[unknown] LOG:  connection received: host=[local]
2026-12-05 06:00:00.200 UTC [101] app=[unknown] user=bench_auditor db=postgres LOG:  connection authorized: user=bench_auditor database=postgres application_name=pgaudit-roles
2026-12-05 06:00:00.300 UTC [102] app=[unknown] user=bench_auditor db=a LOG:  connection authorized: user=bench_auditor database=a application_name=pgaudit-roles
2026-12-05 06:00:00.350 UTC [103] app=[unknown] user=postgres db=postgres LOG:  connection authorized: user=postgres database=postgres
2026-12-05 06:00:01.300 UTC [102] app=pgaudit-roles user=bench_auditor db=a LOG:  disconnection: session time: 0:00:01.000 user=bench_auditor database=a host=[local]
2026-12-05 06:00:01.400 UTC [104] app=[unknown] user=bench_auditor db=b LOG:  connection authorized: user=bench_auditor database=b application_name=pgaudit-roles
2026-12-05 06:00:02.000 UTC [101] app=pgaudit-roles user=bench_auditor db=postgres LOG:  disconnection: session time: 0:00:01.800 user=bench_auditor database=postgres host=[local]
"""


def test_sessions_and_overlap(tmp_path: Path) -> None:
    log = tmp_path / "postgres.log"
    log.write_text(LOG)
    got = fb.sessions(log, "bench_auditor")
    assert len(got) == 3  # 101, 102 and 104 (still open: the server was killed)
    assert sorted(round(e - s, 3) for s, e in got if e != float("inf")) == [1.0, 1.8]
    assert fb.peak_overlap(got) == 2  # 101 with 102, then 101 with 104
    assert fb.peak_overlap(got + got) == 4
    [(start, end)] = fb.sessions(log, "postgres")  # another user's sessions kept apart
    assert end == float("inf") and round(start - min(s for s, _ in got), 3) == 0.15
