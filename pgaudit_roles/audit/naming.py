"""The naming policy: which kind of role a name is, and which application it belongs to.

Why: the production guide's rules are about *kinds* of roles (the runtime role must not
own objects, the reader must not write, only break-glass roles are superusers), and the
catalog does not store kinds. The guide names them ``db_owner_<app>``, ``db_writer_<app>``,
``db_reader_<app>``, ``deploy_<app>`` (CI/CD login, granted the owner role) and
``app_<app>`` (application login), optionally with an environment suffix
(``db_writer_api_prod``). A site with other conventions configures its own patterns in the
``[naming]`` table of pgaudit-roles.toml, or names roles' kinds explicitly.

Classification order (first match wins), see ``NamingPolicy.classify``:

1. ``kinds``: an explicit ``role = kind`` entry;
2. ``predefined``: a built-in ``pg_*`` role (OID below 16384, name starting ``pg_``);
3. ``auditor``: a role listed as the auditing login (default: ``pgaudit_auditor``);
4. ``breakglass``: a role on the break-glass allowlist (default: ``breakglass_admin``);
5. the patterns, in the order owner, writer, reader, deploy, app, monitor;
6. ``monitor``: otherwise a member of ``pg_monitor`` (``monitor_members = true``, default);
7. ``admin``: otherwise a superuser (an app-named superuser stays ``app``: that is the
   finding, not a reason to reclassify it);
8. ``other``.

Patterns are regular expressions matched against the whole name (anchored, as if wrapped
in ``^...$``). The named group ``app`` captures the application; a trailing
``_<environment>`` from ``environments`` is stripped from it (``api_prod`` -> ``api``,
environment ``prod``). Owner/writer/reader/deploy/app patterns must have the group; monitor
patterns may omit it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import ConfigError

KINDS: tuple[str, ...] = (
    "owner",
    "writer",
    "reader",
    "deploy",
    "app",
    "monitor",
    "breakglass",
    "admin",
    "predefined",
    "auditor",
    "other",
)
PATTERN_KINDS: tuple[str, ...] = ("owner", "writer", "reader", "deploy", "app", "monitor")
APP_KINDS: tuple[str, ...] = ("owner", "writer", "reader", "deploy", "app")
"""Kinds whose patterns must capture the application name."""

RUNTIME_KINDS: tuple[str, ...] = ("app",)
"""Login roles the application process uses (the guide's ``app_<app>``)."""

GROUP_KINDS: tuple[str, ...] = ("owner", "writer", "reader")
"""NOLOGIN permission containers in the guide's layout."""

DEFAULT_PATTERNS: dict[str, tuple[str, ...]] = {
    "owner": (r"db_owner_(?P<app>.+)",),
    "writer": (r"db_writer_(?P<app>.+)",),
    "reader": (r"db_reader_(?P<app>.+)",),
    "deploy": (r"deploy_(?P<app>.+)",),
    "app": (r"app_(?P<app>.+)",),
    "monitor": (r"monitor(ing)?(_.+)?", r".+_monitor(ing)?"),
}
DEFAULT_BREAKGLASS: tuple[str, ...] = ("breakglass_admin",)
"""The guide's break-glass superuser ("keep one minimally used break-glass superuser
credential locked in a vault"), by the name the README's example layout gives it."""
DEFAULT_AUDITOR: tuple[str, ...] = ("pgaudit_auditor",)
"""The auditing login ``bootstrap-sql`` creates by default."""
DEFAULT_ENVIRONMENTS: tuple[str, ...] = (
    "prod",
    "production",
    "staging",
    "stage",
    "preprod",
    "uat",
    "qa",
    "test",
    "dev",
    "development",
)

CONFIG_KEYS: tuple[str, ...] = (
    *PATTERN_KINDS,
    "environments",
    "kinds",
    "breakglass",
    "app_schemas",
    "auditor",
    "monitor_members",
)


@dataclass(frozen=True)
class Classification:
    kind: str
    app: str | None
    environment: str | None


@dataclass
class NamingPolicy:
    """How role names map to kinds and applications. Defaults follow the guide."""

    owner: tuple[str, ...] = DEFAULT_PATTERNS["owner"]
    writer: tuple[str, ...] = DEFAULT_PATTERNS["writer"]
    reader: tuple[str, ...] = DEFAULT_PATTERNS["reader"]
    deploy: tuple[str, ...] = DEFAULT_PATTERNS["deploy"]
    app: tuple[str, ...] = DEFAULT_PATTERNS["app"]
    monitor: tuple[str, ...] = DEFAULT_PATTERNS["monitor"]
    environments: tuple[str, ...] = DEFAULT_ENVIRONMENTS
    kinds: dict[str, str] = field(default_factory=dict)
    breakglass: list[str] = field(default_factory=lambda: list(DEFAULT_BREAKGLASS))
    app_schemas: dict[str, list[str]] = field(default_factory=dict)
    auditor: list[str] = field(default_factory=lambda: list(DEFAULT_AUDITOR))
    monitor_members: bool = True
    """Classify members of pg_monitor that match nothing else as ``monitor``."""

    def __post_init__(self) -> None:
        self._compiled: dict[str, list[re.Pattern[str]]] = {}
        for kind in PATTERN_KINDS:
            pats = getattr(self, kind)
            if isinstance(pats, str):
                pats = (pats,)
                setattr(self, kind, pats)
            self._compiled[kind] = [
                _compile(p, kind, kind in APP_KINDS, f"naming.{kind}") for p in pats
            ]
        for name, kind in self.kinds.items():
            if kind not in KINDS:
                raise ConfigError(
                    f"naming.kinds.{name}: unknown kind {kind!r} (one of {', '.join(KINDS)})"
                )

    @classmethod
    def default(cls) -> NamingPolicy:
        """The guide's conventions: its names, the break-glass ``breakglass_admin`` and
        the auditor ``pgaudit_auditor`` (a configured list replaces the default one)."""
        return cls()

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any], origin: str = "config") -> NamingPolicy:
        """Build from the ``[naming]`` table of pgaudit-roles.toml; bad input -> ConfigError.

        Keys: owner, writer, reader, deploy, app, monitor (a regex or a list of them),
        environments (list of suffixes), kinds (table role -> kind), breakglass and auditor
        (lists of role names), app_schemas (table app -> list of schema names),
        monitor_members (boolean).
        """
        if not isinstance(d, Mapping):
            raise ConfigError(f"{origin}: naming must be a table")
        kw: dict[str, Any] = {}
        for key, value in d.items():
            where = f"{origin}: naming.{key}"
            if key not in CONFIG_KEYS:
                raise ConfigError(f"{where}: unknown key (known: {', '.join(CONFIG_KEYS)})")
            if key in PATTERN_KINDS:
                pats = (value,) if isinstance(value, str) else value
                pats = tuple(_str_list(pats, where))
                if not pats:
                    raise ConfigError(f"{where}: needs at least one pattern")
                for p in pats:
                    _compile(p, key, key in APP_KINDS, where)
                kw[key] = pats
            elif key == "environments":
                envs = tuple(_str_list(value, where))
                for e in envs:
                    if not e or not re.fullmatch(r"[A-Za-z0-9_]+", e):
                        raise ConfigError(f"{where}: {e!r} is not a plain suffix word")
                kw[key] = envs
            elif key in ("breakglass", "auditor"):
                kw[key] = _str_list(value, where)
            elif key == "kinds":
                if not isinstance(value, Mapping):
                    raise ConfigError(f"{where}: must be a table of role = kind")
                kinds: dict[str, str] = {}
                for role, kind in value.items():
                    if not isinstance(kind, str) or kind not in KINDS:
                        raise ConfigError(
                            f"{where}.{role}: unknown kind {kind!r} (one of {', '.join(KINDS)})"
                        )
                    kinds[str(role)] = kind
                kw[key] = kinds
            elif key == "app_schemas":
                if not isinstance(value, Mapping):
                    raise ConfigError(f"{where}: must be a table of app = [schemas]")
                kw[key] = {str(a): _str_list(v, f"{where}.{a}") for a, v in value.items()}
            elif key == "monitor_members":
                if not isinstance(value, bool):
                    raise ConfigError(f"{where}: must be true or false")
                kw[key] = value
        return cls(**kw)

    # --- classification ----------------------------------------------------------------

    def split_environment(self, app: str) -> tuple[str, str | None]:
        """``api_prod`` -> (``api``, ``prod``) when ``prod`` is a configured environment."""
        for env in sorted(self.environments, key=len, reverse=True):
            suffix = "_" + env
            if app.endswith(suffix) and len(app) > len(suffix):
                return app[: -len(suffix)], env
        return app, None

    def match(self, name: str) -> Classification | None:
        """The first pattern kind whose pattern matches the whole name, or None."""
        for kind in PATTERN_KINDS:
            for rx in self._compiled[kind]:
                m = rx.fullmatch(name)
                if m is None:
                    continue
                raw = m.groupdict().get("app")
                if raw is None:
                    return Classification(kind, None, None)
                app, env = self.split_environment(raw)
                return Classification(kind, app, env)
        return None

    def classify_full(
        self,
        name: str,
        *,
        login: bool = False,
        superuser: bool = False,
        predefined: bool = False,
        monitor_member: bool = False,
    ) -> Classification:
        """Kind, app and environment of one role (see the module docstring for the order)."""
        explicit = self.kinds.get(name)
        matched = self.match(name)
        if explicit is not None:
            if matched is not None and matched.app is not None:
                return Classification(explicit, matched.app, matched.environment)
            return Classification(explicit, None, None)
        if predefined and name.startswith("pg_"):
            return Classification("predefined", None, None)
        if name in self.auditor:
            return Classification("auditor", None, None)
        if name in self.breakglass:
            return Classification("breakglass", None, None)
        if matched is not None:
            return matched
        if monitor_member and self.monitor_members:
            return Classification("monitor", None, None)
        if superuser:
            return Classification("admin", None, None)
        return Classification("other", None, None)

    def classify(
        self,
        name: str,
        *,
        login: bool,
        superuser: bool,
        predefined: bool,
        monitor_member: bool = False,
    ) -> tuple[str, str | None]:
        """``(kind, app)`` for a role; ``login`` is accepted for policies that need it."""
        c = self.classify_full(
            name,
            login=login,
            superuser=superuser,
            predefined=predefined,
            monitor_member=monitor_member,
        )
        return c.kind, c.app

    def schema_app(self, schema: str) -> str | None:
        """The app a schema belongs to by ``app_schemas`` (None when not listed)."""
        for app, schemas in self.app_schemas.items():
            if schema in schemas:
                return app
        return None

    def to_mapping(self) -> dict[str, Any]:
        """The policy as a plain table (for --show-config and reports)."""
        return {
            **{k: list(getattr(self, k)) for k in PATTERN_KINDS},
            "environments": list(self.environments),
            "kinds": dict(self.kinds),
            "breakglass": list(self.breakglass),
            "app_schemas": dict(self.app_schemas),
            "auditor": list(self.auditor),
            "monitor_members": self.monitor_members,
        }


def _str_list(value: Any, where: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence | Iterable):
        raise ConfigError(f"{where}: must be a list of strings")
    out = list(value)
    for v in out:
        if not isinstance(v, str):
            raise ConfigError(f"{where}: must be a list of strings, found {v!r}")
    return out


def _compile(pattern: str, kind: str, need_app: bool, where: str) -> re.Pattern[str]:
    if not isinstance(pattern, str):
        raise ConfigError(f"{where}: pattern must be a string, found {pattern!r}")
    try:
        rx = re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"{where}: bad regular expression {pattern!r} ({exc})") from None
    if need_app and "app" not in rx.groupindex:
        raise ConfigError(
            f"{where}: pattern {pattern!r} for {kind} roles needs a named "
            "group (?P<app>...) that captures the application name"
        )
    return rx
