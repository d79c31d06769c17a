"""The fleet inventory: which clusters to audit, and what the fleet knows about each.

Two forms, told apart by content, not by name:

- a TOML file with ``[[targets]]`` (name, dsn or libpq service, environment, application,
  team, tags, timeout, and a ``config`` table of per-target settings with the keys of
  ``pgaudit-roles.toml``), an optional ``[defaults]`` table every target starts from, and
  an optional ``service_file`` for the targets named by service;
- a libpq ``pg_service.conf``: each ``[section]`` is a target audited as ``service=NAME``
  (libpq reads host, port, user, passfile... from the file itself).

Why strict (unknown key, duplicate name, a target with both or neither of dsn and service
are errors, exit 2, one line naming the file and target): an inventory typo that silently
dropped a cluster would be a fleet report that says "all fine" about a cluster nobody
looked at.

``--select`` keeps targets by tag or attribute and ``--shard i/n`` keeps the i-th of n
deterministic parts (by a hash of the target name, so every machine of a batch job
computes the same split without talking to the others, and adding a target moves no
other target between shards).
"""

from __future__ import annotations

import configparser
import fnmatch
import hashlib
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..collect.connect import parse_conninfo
from ..config import config_from_mapping
from ..core.errors import ConfigError, UsageError

TOP_KEYS = ("targets", "defaults", "service_file")
TARGET_KEYS = (
    "name",
    "dsn",
    "service",
    "environment",
    "application",
    "team",
    "tags",
    "timeout",
    "config",
)
DEFAULT_KEYS = ("environment", "application", "team", "tags", "timeout", "config")
FLEET_ONLY_KEYS = ("formats", "output_dir", "target_name")
"""Configuration keys a target cannot override: the fleet writes every target's reports."""
SELECT_KEYS = {
    "tag": "tags",
    "name": "name",
    "environment": "environment",
    "env": "environment",
    "application": "application",
    "app": "application",
    "team": "team",
}
MAX_NAME = 200
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "min": 60.0, "h": 3600.0, None: 1.0}
_SAFE_DIR = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


class InventoryError(UsageError):
    """A problem in the inventory file or in --select/--shard (exit 2)."""


@dataclass(frozen=True)
class Target:
    """One cluster of the fleet. ``conninfo`` never leaves this process in a report: the
    reports name the target by ``name`` and by the password-free ``describe_target``."""

    name: str
    conninfo: str
    service: str | None = None
    environment: str | None = None
    application: str | None = None
    team: str | None = None
    tags: tuple[str, ...] = ()
    timeout: float | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    origin: str = "inventory"
    service_file: str | None = None
    """The pg_service.conf a ``service`` target is looked up in (set as PGSERVICEFILE in
    the target's own process: libpq before 18 has no conninfo keyword for it)."""

    @property
    def slug(self) -> str:
        """The target's directory name under ``targets/``: the name itself when it is a
        plain file name, else a readable part plus a digest (names may hold anything)."""
        return slug(self.name)

    def attributes(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "environment": self.environment,
            "application": self.application,
            "team": self.team,
            "tags": list(self.tags),
        }


@dataclass
class Inventory:
    path: Path
    kind: str  # "toml" | "pg_service"
    targets: list[Target]


def slug(name: str) -> str:
    if _SAFE_DIR.match(name) and name not in (".", ".."):
        return name
    plain = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-")[:40] or "target"
    return f"{plain}-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:10]}"


def parse_duration(value: Any, where: str) -> float:
    """Seconds from ``90``, ``"90s"``, ``"10min"``, ``"1h"``; a bad value names ``where``."""
    if isinstance(value, bool):
        raise InventoryError(f"{where}: must be seconds or a duration such as 90s, 10min, 1h")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise InventoryError(f"{where}: {value!r} is not a duration (use 90s, 10min or 1h)")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds <= 0:
        raise InventoryError(f"{where}: must be more than zero")
    return seconds


def load(path: str | Path) -> Inventory:
    """Read an inventory (TOML targets or pg_service.conf sections); exit 2 on any problem."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise InventoryError(f"inventory {p}: file not found") from None
    except IsADirectoryError:
        raise InventoryError(f"inventory {p}: is a directory, not a file") from None
    except OSError as exc:
        raise InventoryError(f"inventory {p}: cannot read ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InventoryError(f"inventory {p}: not UTF-8 text") from None
    if _looks_like_service_file(text):
        targets = _from_service_file(text, p)
        kind = "pg_service"
    else:
        targets = _from_toml(text, p)
        kind = "toml"
    if not targets:
        raise InventoryError(f"inventory {p}: no targets (add [[targets]] entries)")
    return Inventory(path=p, kind=kind, targets=targets)


def _looks_like_service_file(text: str) -> bool:
    """A pg_service.conf is INI: ``[name]`` headers and ``key=value`` lines only. TOML with
    ``[[targets]]`` or quoted values is never read as one."""
    saw_section = False
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#") or s.startswith(";"):
            continue
        if s.startswith("[["):
            return False
        if s.startswith("[") and s.endswith("]"):
            saw_section = True
            continue
        key, eq, value = s.partition("=")
        if not eq or not saw_section:
            return False
        v = value.strip()
        if v[:1] in ('"', "'", "[", "{") or v in ("true", "false"):
            return False
    return saw_section


def _from_service_file(text: str, path: Path) -> list[Target]:
    parser = configparser.ConfigParser(
        interpolation=None, strict=True, delimiters=("=",), comment_prefixes=("#", ";")
    )
    try:
        parser.read_string(text, source=str(path))
    except configparser.DuplicateSectionError as exc:
        raise InventoryError(
            f"inventory {path}: duplicate target name {exc.section!r} (line {exc.lineno})"
        ) from None
    except configparser.Error as exc:
        first = str(exc).splitlines()[0]
        raise InventoryError(f"inventory {path}: not a valid pg_service.conf ({first})") from None
    from psycopg.conninfo import make_conninfo

    out = []
    for section in parser.sections():
        _check_name(section, f"inventory {path}: section [{section}]")
        out.append(
            Target(
                name=section,
                conninfo=make_conninfo(service=section),
                service=section,
                origin=f"{path} [{section}]",
                service_file=str(path.resolve()),
            )
        )
    return out


def _from_toml(text: str, path: Path) -> list[Target]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InventoryError(f"inventory {path}: invalid TOML: {exc}") from None
    except RecursionError:
        raise InventoryError(f"inventory {path}: invalid TOML: nested too deeply") from None
    where = f"inventory {path}"
    _unknown(doc, TOP_KEYS, where, "")
    service_file: str | None = None
    if "service_file" in doc:
        sf = doc["service_file"]
        if not isinstance(sf, str) or not sf:
            raise InventoryError(f"{where}: service_file must be a path string")
        try:
            sp = Path(sf).expanduser()
        except RuntimeError:  # ~user of a user this machine does not know
            raise InventoryError(
                f"{where}: service_file {sf!r}: no home directory to expand its ~ to"
            ) from None
        service_file = str(sp if sp.is_absolute() else (path.parent / sp).resolve())
    defaults = doc.get("defaults", {})
    if not isinstance(defaults, dict):
        raise InventoryError(f"{where}: [defaults] must be a table")
    _unknown(defaults, DEFAULT_KEYS, where, "defaults.")
    targets = doc.get("targets", [])
    if not isinstance(targets, list) or not all(isinstance(t, dict) for t in targets):
        raise InventoryError(f"{where}: 'targets' must be an array of tables ([[targets]])")
    out: list[Target] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(targets, start=1):
        label = f"{where}: target #{i}"
        name = entry.get("name")
        if isinstance(name, str) and name:
            label = f"{where}: target {name!r}"
        _unknown(entry, TARGET_KEYS, label, "")
        if not isinstance(name, str) or not name.strip():
            raise InventoryError(f"{label}: 'name' is required (a non-empty string)")
        _check_name(name, label)
        if name in seen:
            raise InventoryError(
                f"{where}: duplicate target name {name!r} (targets #{seen[name]} and #{i})"
            )
        seen[name] = i
        out.append(_target(entry, defaults, label, service_file, path))
    return out


def _target(
    entry: dict[str, Any],
    defaults: dict[str, Any],
    label: str,
    service_file: str | None,
    path: Path,
) -> Target:
    from psycopg.conninfo import make_conninfo

    dsn, service = entry.get("dsn"), entry.get("service")
    if (dsn is None) == (service is None):
        raise InventoryError(f"{label}: give exactly one of 'dsn' or 'service'")
    if dsn is not None:
        if not isinstance(dsn, str):
            raise InventoryError(f"{label}: 'dsn' must be a string")

        try:
            parse_conninfo(dsn)
        except UsageError as exc:
            raise InventoryError(f"{label}: {exc}") from None
        conninfo = dsn
    else:
        if not isinstance(service, str) or not service:
            raise InventoryError(f"{label}: 'service' must be a service name")
        conninfo = make_conninfo(service=service)
    merged = {**defaults, **{k: v for k, v in entry.items() if k in DEFAULT_KEYS}}
    for key in ("environment", "application", "team"):
        v = merged.get(key)
        if v is not None and (not isinstance(v, str) or not v):
            raise InventoryError(f"{label}: '{key}' must be a non-empty string")
    tags = merged.get("tags", [])
    if (
        isinstance(tags, str)
        or not isinstance(tags, list)
        or not all(isinstance(t, str) and t for t in tags)
    ):
        raise InventoryError(f"{label}: 'tags' must be a list of non-empty strings")
    timeout = merged.get("timeout")
    seconds = parse_duration(timeout, f"{label}: timeout") if timeout is not None else None
    config = _merge_config(defaults.get("config", {}), entry.get("config", {}), label)
    if config:
        _check_config(config, label, path)
    return Target(
        name=entry["name"],
        conninfo=conninfo,
        service=service,
        environment=merged.get("environment"),
        application=merged.get("application"),
        team=merged.get("team"),
        tags=tuple(dict.fromkeys(tags)),
        timeout=seconds,
        config=config,
        origin=label,
        service_file=service_file if service is not None else None,
    )


def _merge_config(base: Any, own: Any, label: str) -> dict[str, Any]:
    """``defaults.config`` then the target's ``config``; tables merge one level deep (a
    target's ``collect.jobs`` keeps the defaults' ``collect.lock_timeout``)."""
    for value, key in ((base, "defaults.config"), (own, "config")):
        if not isinstance(value, dict):
            raise InventoryError(f"{label}: '{key}' must be a table")
    out: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for k, v in own.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = {**out[k], **v}
        else:
            out[k] = v
    return out


def _check_config(config: dict[str, Any], label: str, path: Path) -> None:
    """Validate per-target settings now, with the config loader's own checks, so a typo
    stops the run before any cluster is contacted."""

    for key in FLEET_ONLY_KEYS:
        if key in config:
            raise InventoryError(
                f"{label}: config.{key} cannot be set per target (the fleet "
                "sets it: its --format and --output-dir, the target's name)"
            )
    try:
        config_from_mapping(config, origin=f"{label}: config", base=path.parent)
    except ConfigError as exc:
        raise InventoryError(str(exc)) from None


def _check_name(name: str, label: str) -> None:
    if len(name) > MAX_NAME:
        raise InventoryError(f"{label}: name longer than {MAX_NAME} characters")
    if any(unicodedata.category(ch) == "Cc" for ch in name):  # newline, NUL, ESC...
        raise InventoryError(f"{label}: name holds a control character")


def _unknown(table: Mapping[str, Any], known: Sequence[str], where: str, prefix: str) -> None:
    for key in table:
        if key not in known:
            raise InventoryError(
                f"{where}: unknown key {prefix + str(key)!r} (known: "
                f"{', '.join(prefix + k for k in known)})"
            )


# --- selection and sharding -------------------------------------------------------------


def parse_select(specs: Iterable[str]) -> list[tuple[str, tuple[str, ...]]]:
    """``tag=eu`` / ``environment=prod,staging`` / ``name=orders-*`` -> (attribute, values)."""
    out = []
    for spec in specs:
        key, eq, value = spec.partition("=")
        key = key.strip().lower()
        if not eq or key not in SELECT_KEYS or not value.strip():
            raise InventoryError(
                f"--select {spec!r}: use KEY=VALUE with KEY one of "
                f"{', '.join(sorted(set(SELECT_KEYS)))}"
            )
        values = tuple(v.strip() for v in value.split(",") if v.strip())
        out.append((SELECT_KEYS[key], values))
    return out


def matches(target: Target, selection: Sequence[tuple[str, tuple[str, ...]]]) -> bool:
    """Every --select must match (AND); the comma-separated values of one are alternatives
    (OR); ``name`` takes shell patterns."""
    for attr, values in selection:
        if attr == "tags":
            if not set(values) & set(target.tags):
                return False
        elif attr == "name":
            if not any(fnmatch.fnmatchcase(target.name, v) for v in values):
                return False
        elif getattr(target, attr) not in values:
            return False
    return True


def parse_shard(spec: str) -> tuple[int, int]:
    """``i/n`` with 0 <= i < n (0-based, like a Kubernetes completion index)."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", spec or "")
    if not m:
        raise InventoryError(f"--shard {spec!r}: use INDEX/COUNT, e.g. 0/4 (INDEX from 0)")
    i, n = int(m.group(1)), int(m.group(2))
    if n < 1 or i >= n:
        raise InventoryError(f"--shard {spec!r}: INDEX must be from 0 to COUNT-1")
    return i, n


def shard_of(name: str, count: int) -> int:
    """The shard a target belongs to: stable across machines, Python versions and runs
    (sha256 of the name, not ``hash()``, which is salted per process)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big") % count


def choose(
    targets: Sequence[Target],
    selection: Sequence[tuple[str, tuple[str, ...]]],
    shard: tuple[int, int] | None,
) -> list[Target]:
    out = [t for t in targets if matches(t, selection)]
    if shard is not None:
        i, n = shard
        out = [t for t in out if shard_of(t.name, n) == i]
    return out
