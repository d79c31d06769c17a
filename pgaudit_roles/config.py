"""Configuration: discovery, validation, and where every effective setting came from.

Why strict: a setting that silently does nothing (a typo in a key, a severity override for
a rule id that does not exist) gives a false sense of coverage, which is worse than an
error. So an unknown key, a wrong type or an unknown rule id stops the run with exit 2,
naming the key and the file.

Discovery (first match wins): ``--config FILE``; else ``.pgaudit-roles.toml`` in the
working directory or the nearest parent; else the ``[tool.pgaudit-roles]`` table of the
nearest ``pyproject.toml`` that has one. Paths in a file are relative to that file.
Command-line options override the file; ``Config.sources`` records, for every effective
setting, whether it is the default, from which file, or from the command line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .audit.naming import NamingPolicy
from .core.errors import ConfigError
from .core.model import SEVERITIES, Rule, resolve_ids
from .history.store import parse_retention
from .reports.registry import FORMATS, inventory_needs

CONFIG_FILE = ".pgaudit-roles.toml"
PYPROJECT_TABLE = "pgaudit-roles"
FAIL_ON_CHOICES: tuple[str, ...] = (*SEVERITIES, "none")
DEFAULT_SOURCE = "default"
CLI_SOURCE = "command line"

TOP_KEYS: tuple[str, ...] = (
    "naming",
    "rules",
    "fail_on",
    "formats",
    "output_dir",
    "waivers",
    "baseline",
    "framework",
    "collect",
    "rules_dirs",
    "history",
    "target_name",
)
RULES_KEYS: tuple[str, ...] = ("disable", "severity")
COLLECT_KEYS: dict[str, type | tuple[type, ...]] = {
    "statement_timeout": (str, int),
    "lock_timeout": (str, int),
    "idle_in_transaction_session_timeout": (str, int),
    "connect_timeout": int,
    "jobs": int,
    "databases": list,
    "all_databases": bool,
    "hba_file": str,
}
HISTORY_KEYS: tuple[str, ...] = ("dir", "keep")
"""``[history]``: the store each run is appended to, and its retention ("90d", "30 runs")."""


@dataclass
class Config:
    """Every setting the scanner reads, already validated, with its origin in ``sources``."""

    naming_raw: dict[str, Any] = field(default_factory=dict)
    naming: Any = None  # naming.NamingPolicy, built from naming_raw (the guide's defaults)
    disabled: frozenset[str] = frozenset()
    severity: dict[str, str] = field(default_factory=dict)
    fail_on: str = "high"
    formats: tuple[str, ...] = ("text",)
    output_dir: Path = Path("pgaudit-report")
    waivers: Path | None = None
    baseline: Path | None = None
    framework: str | None = None
    collect: dict[str, Any] = field(default_factory=dict)
    rules_dirs: tuple[Path, ...] = ()
    history: dict[str, Any] = field(default_factory=dict)
    target_name: str | None = None
    path: Path | None = None  # the file the settings came from, if any
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def inventory_needs(self) -> frozenset[str]:
        """The optional inventory parts the chosen report formats read (``needs`` in the
        reports registry): evaluation computes only those."""
        return frozenset(inventory_needs(self.formats))

    def resolve_rules(self, rules: Iterable[Rule]) -> None:
        """Check rule ids in ``rules.disable``/``rules.severity`` against the loaded rules.

        Aliases are accepted and rewritten to the current id (a renamed rule keeps its
        overrides). An unknown id is a ConfigError naming the key and the file.
        """
        ids = resolve_ids(rules)

        def resolve(name: str, key: str) -> str:
            if name not in ids:
                raise ConfigError(
                    f"{self.sources.get(key, 'config')}: {key}: unknown rule id {name!r}"
                )
            return ids[name]

        self.disabled = frozenset(resolve(n, "rules.disable") for n in self.disabled)
        self.severity = {resolve(k, "rules.severity"): v for k, v in self.severity.items()}

    def effective(self) -> dict[str, Any]:
        """Every setting as plain values, for ``--show-config`` and the report."""
        out: dict[str, Any] = {
            "fail_on": self.fail_on,
            "formats": list(self.formats),
            "output_dir": str(self.output_dir),
            "waivers": str(self.waivers) if self.waivers else None,
            "baseline": str(self.baseline) if self.baseline else None,
            "framework": self.framework,
            "rules_dirs": [str(p) for p in self.rules_dirs],
            "rules.disable": sorted(self.disabled),
            "rules.severity": dict(sorted(self.severity.items())),
        }
        for k in COLLECT_KEYS:
            out[f"collect.{k}"] = self.collect.get(k)
        out["target_name"] = self.target_name
        for k in HISTORY_KEYS:
            v = self.history.get(k)
            out[f"history.{k}"] = str(v) if v is not None else None
        out["naming"] = self._effective_naming()
        return out

    def _effective_naming(self) -> dict[str, Any]:
        """The naming policy in force (the guide's defaults unless configured), never null."""
        policy = self.naming if isinstance(self.naming, NamingPolicy) else NamingPolicy.default()
        return policy.to_mapping()

    def show(self) -> str:
        """``key = value  (source)`` lines; None means the command's own default applies."""
        import json

        lines = []
        for key, value in self.effective().items():
            shown = json.dumps(value, ensure_ascii=False, default=str)
            lines.append(f"{key} = {shown}  ({self.sources.get(key, DEFAULT_SOURCE)})")
        return "\n".join(lines)


# --- discovery --------------------------------------------------------------------------------


def discover(cwd: Path | None = None) -> tuple[Path, dict[str, Any]] | None:
    """Find the configuration file for ``cwd`` and return (path, table), or None."""
    start = (cwd or Path.cwd()).resolve()
    for d in (start, *start.parents):
        candidate = d / CONFIG_FILE
        if candidate.is_file():
            return candidate, _read_toml(candidate)
    for d in (start, *start.parents):
        candidate = d / "pyproject.toml"
        if candidate.is_file():
            doc = _read_toml(candidate)
            table = doc.get("tool", {}).get(PYPROJECT_TABLE)
            if table is not None:
                if not isinstance(table, dict):
                    raise ConfigError(f"{candidate}: [tool.{PYPROJECT_TABLE}] must be a table")
                return candidate, table
    return None


def load_config(
    path: Path | str | None = None,
    *,
    cwd: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    discover_file: bool = True,
) -> Config:
    """Build the effective configuration.

    ``path`` is ``--config`` (must exist). Without it the file is discovered from ``cwd``
    (unless ``discover_file`` is false). ``overrides`` are command-line values by config
    key (``fail_on``, ``framework``, ``rules_dirs``, ``formats``, ``output_dir``,
    ``waivers``, ``baseline``, ``collect.<key>``); None values are ignored.
    """
    found: tuple[Path, dict[str, Any]] | None
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"--config {p}: file not found")
        doc = _read_toml(p)
        if p.name == "pyproject.toml":
            doc = doc.get("tool", {}).get(PYPROJECT_TABLE, {})
        found = (p, doc)
    elif discover_file:
        found = discover(cwd)
    else:
        found = None

    cfg = Config()
    if found is not None:
        file_path, table = found
        cfg.path = file_path
        _apply(cfg, table, str(file_path), base=file_path.parent)
    if overrides:
        _apply(
            cfg,
            _nest({k: v for k, v in overrides.items() if v is not None}),
            CLI_SOURCE,
            base=cwd or Path.cwd(),
        )
    _build_naming(cfg)
    return cfg


def with_overrides(cfg: Config, table: Mapping[str, Any], origin: str, base: Path) -> Config:
    """A copy of ``cfg`` with ``table`` (keys of pgaudit-roles.toml) applied on top: a
    fleet target's own settings over the run's. Validated like a file; ``cfg`` is untouched."""
    import copy

    out = copy.deepcopy(cfg)
    _apply(out, table, origin, base=base)
    _build_naming(out)
    return out


def config_from_mapping(
    table: Mapping[str, Any], origin: str = "inline config", base: Path | None = None
) -> Config:
    """A Config from an in-memory table (tests, the rule-case runner)."""
    cfg = Config()
    _apply(cfg, table, origin, base=base or Path.cwd())
    _build_naming(cfg)
    return cfg


# --- validation -------------------------------------------------------------------------------


def _apply(cfg: Config, table: Mapping[str, Any], origin: str, base: Path) -> None:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{origin}: configuration must be a table")
    _unknown(table, TOP_KEYS, "", origin)

    def err(key: str, problem: str) -> ConfigError:
        return ConfigError(f"{origin}: {key}: {problem}")

    if "naming" in table:
        naming = table["naming"]
        if not isinstance(naming, Mapping):
            raise err("naming", "must be a table")
        cfg.naming_raw = dict(naming)
        cfg.sources["naming"] = origin

    if "rules" in table:
        rules = table["rules"]
        if not isinstance(rules, Mapping):
            raise err("rules", "must be a table with 'disable' and/or 'severity'")
        _unknown(rules, RULES_KEYS, "rules.", origin)
        if "disable" in rules:
            dis = rules["disable"]
            if not isinstance(dis, list) or not all(isinstance(x, str) for x in dis):
                raise err("rules.disable", "must be a list of rule ids")
            cfg.disabled = frozenset(dis)
            cfg.sources["rules.disable"] = origin
        if "severity" in rules:
            sev = rules["severity"]
            if not isinstance(sev, Mapping):
                raise err("rules.severity", "must be a table of rule id = severity")
            for rid, value in sev.items():
                if value not in SEVERITIES:
                    raise err(
                        f"rules.severity.{rid}", f"{value!r} is not one of {', '.join(SEVERITIES)}"
                    )
            cfg.severity = dict(sev)
            cfg.sources["rules.severity"] = origin

    if "fail_on" in table:
        value = table["fail_on"]
        if value not in FAIL_ON_CHOICES:
            raise err("fail_on", f"{value!r} is not one of {', '.join(FAIL_ON_CHOICES)}")
        cfg.fail_on = value
        cfg.sources["fail_on"] = origin

    if "formats" in table:
        value = table["formats"]
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise err("formats", f"must be a non-empty list of {', '.join(FORMATS)}")
        bad = [v for v in value if v not in FORMATS]
        if bad:
            raise err("formats", f"unknown format {bad[0]!r} (known: {', '.join(FORMATS)})")
        cfg.formats = tuple(dict.fromkeys(value))
        cfg.sources["formats"] = origin

    for key in ("output_dir", "waivers", "baseline"):
        if key in table:
            value = table[key]
            if not isinstance(value, str | Path) or not str(value):
                raise err(key, "must be a path string")
            setattr(cfg, key, _path(value, base))
            cfg.sources[key] = origin

    if "framework" in table:
        value = table["framework"]
        if not isinstance(value, str) or not value:
            raise err("framework", "must be a framework name, e.g. 'golive' or 'cis'")
        cfg.framework = value
        cfg.sources["framework"] = origin

    if "rules_dirs" in table:
        value = table["rules_dirs"]
        if isinstance(value, str | Path):
            value = [value]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str | Path) for v in value):
            raise err("rules_dirs", "must be a list of directory paths")
        dirs = tuple(_path(v, base) for v in value)
        # The command line adds to the file's directories rather than replacing them: user
        # rules configured for a project keep running when one more dir is given ad hoc.
        cfg.rules_dirs = tuple(dict.fromkeys((*cfg.rules_dirs, *dirs)))
        prev = cfg.sources.get("rules_dirs")
        cfg.sources["rules_dirs"] = (
            origin if prev is None or prev == origin else f"{prev} + {origin}"
        )

    if "collect" in table:
        col = table["collect"]
        if not isinstance(col, Mapping):
            raise err("collect", "must be a table")
        _unknown(col, tuple(COLLECT_KEYS), "collect.", origin)
        for key, raw in col.items():
            expected = COLLECT_KEYS[key]
            if isinstance(raw, bool) and expected is not bool:
                raise err(f"collect.{key}", "has the wrong type")
            if not isinstance(raw, expected):
                raise err(f"collect.{key}", f"has the wrong type ({type(raw).__name__})")
            item: Any = raw
            if key == "databases" and not all(isinstance(v, str) and v for v in item):
                raise err("collect.databases", "must be a list of database names")
            if key == "connect_timeout" and item < 0:
                raise err("collect.connect_timeout", "must be >= 0 seconds")
            if key == "jobs" and not 1 <= item <= 32:
                raise err("collect.jobs", "must be from 1 to 32")
            if key == "hba_file":
                item = _path(item, base)
            cfg.collect[key] = item
            cfg.sources[f"collect.{key}"] = origin

    _apply_history(cfg, table, origin, base)


def _apply_history(cfg: Config, table: Mapping[str, Any], origin: str, base: Path) -> None:
    """``[history]`` and ``target_name``: where runs are recorded and under which name."""
    if "target_name" in table:
        value = table["target_name"]
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{origin}: target_name: must be a non-empty string")
        cfg.target_name = value
        cfg.sources["target_name"] = origin
    if "history" not in table:
        return
    hist = table["history"]
    if not isinstance(hist, Mapping):
        raise ConfigError(f"{origin}: history: must be a table with 'dir' and/or 'keep'")
    _unknown(hist, HISTORY_KEYS, "history.", origin)
    if "dir" in hist:
        if not isinstance(hist["dir"], str | Path) or not str(hist["dir"]):
            raise ConfigError(f"{origin}: history.dir: must be a path string")
        cfg.history["dir"] = _path(hist["dir"], base)
        cfg.sources["history.dir"] = origin
    if "keep" in hist:
        cfg.history["keep"] = parse_retention(hist["keep"], f"{origin}: history.keep")
        cfg.sources["history.keep"] = origin


def _build_naming(cfg: Config) -> None:
    """Turn the ``naming`` table into a NamingPolicy (its own validation, its own errors)."""
    if cfg.naming_raw:
        cfg.naming = NamingPolicy.from_mapping(cfg.naming_raw, cfg.sources.get("naming", "config"))
    else:
        cfg.naming = NamingPolicy.default()


def _unknown(table: Mapping[str, Any], known: Iterable[str], prefix: str, origin: str) -> None:
    known = tuple(known)
    for key in table:
        if key not in known:
            raise ConfigError(
                f"{origin}: unknown key {prefix + str(key)!r} (known: "
                f"{', '.join(prefix + k for k in known)})"
            )


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"collect.lock_timeout": x}`` -> ``{"collect": {"lock_timeout": x}}``."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        head, _, tail = key.partition(".")
        if tail:
            out.setdefault(head, {})[tail] = value
        else:
            out[key] = value
    return out


def _path(value: str | Path, base: Path) -> Path:
    try:
        p = Path(value).expanduser()
    except RuntimeError:  # ~user of a user this machine does not know
        raise ConfigError(f"path {str(value)!r}: no home directory to expand its ~ to") from None
    return p if p.is_absolute() else (base / p)


def _read_toml(path: Path) -> dict[str, Any]:
    import tomllib  # ~4 ms of import: only a run with a configuration file reads one

    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: invalid TOML: nested too deeply") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
