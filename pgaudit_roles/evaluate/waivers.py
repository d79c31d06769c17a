"""Waivers: reviewed, expiring exceptions for findings, kept in a file under version control.

Why a file and not comments in the database: the audited party controls the database, so
an exception stored there would let it waive its own findings. Waived findings stay in every
report (counted and listed with reason and expiry); only the gate ignores them. An expired
waiver stops waiving, and the finding says so.

File format (TOML)::

    [[waiver]]
    rule = "PGR-OWN-001"          # rule id or alias (required)
    database = "api_prod"         # optional
    object = "api.sessions"       # optional: identity or schema.name
    role = "app_api"              # optional
    reason = "legacy table, moved in Q3"   # required
    owner = "team-payments"       # owner or ticket required
    ticket = "SEC-1234"
    expires = 2027-03-31          # optional (TOML date)

``database``, ``object`` and ``role`` match exactly, or, when the value starts with ``^``, as
a regular expression that must match the whole name (``re.fullmatch``): ``ci_logs`` never
waives ``ci_logs_replica``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError
from ..core.model import Finding

_KEYS = {"rule", "database", "object", "role", "reason", "owner", "ticket", "expires"}


@dataclass
class Matcher:
    """A waiver's database, object or role: an exact name, or a pattern."""

    text: str
    regex: re.Pattern[str] | None = None

    def matches(self, candidates: Iterable[str | None]) -> bool:
        for c in candidates:
            if c is None:
                continue
            if self.regex is not None:
                if self.regex.fullmatch(c):
                    return True
            elif c == self.text:
                return True
        return False


@dataclass
class Waiver:
    """One entry of a waiver file, and how many findings it matched."""

    index: int
    rule: str
    reason: str
    owner: str | None = None
    ticket: str | None = None
    expires: dt.date | None = None
    database: Matcher | None = None
    object: Matcher | None = None
    role: Matcher | None = None
    matched: int = field(default=0, compare=False)

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and self.expires < today

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "waiver",
            "index": self.index,
            "rule": self.rule,
            "reason": self.reason,
            "owner": self.owner,
            "ticket": self.ticket,
            "expires": self.expires.isoformat() if self.expires else None,
        }

    def applies_to(self, f: Finding, rule_ids: Mapping[str, str]) -> bool:
        if rule_ids.get(self.rule, self.rule) != f.rule_id:
            return False
        if self.database and not self.database.matches([f.database]):
            return False
        if self.role and not self.role.matches([f.role]):
            return False
        if self.object:
            qualified = (
                f"{f.schema}.{f.object_name}" if f.schema and f.object_name else f.object_name
            )
            if not self.object.matches([f.object_identity, qualified]):
                return False
        return True


def _matcher(value: Any, key: str, where: str) -> Matcher | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: '{key}' must be a non-empty string")
    if value.startswith("^"):
        try:
            return Matcher(value, re.compile(value))
        except re.error as exc:
            raise ConfigError(
                f"{where}: '{key}' is not a valid regular expression ({exc})"
            ) from None
    return Matcher(value)


def load(path: str | Path) -> list[Waiver]:
    """Parse and validate a waiver file; any problem is a ConfigError (exit 2)."""
    import tomllib  # ~4 ms of import: only a run with a waiver file reads one

    p = Path(path)
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"waiver file not found: {p}") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{p}: not a valid TOML waiver file ({exc})") from None
    except RecursionError:
        raise ConfigError(f"{p}: not a valid TOML waiver file (nested too deeply)") from None
    extra = set(doc) - {"waiver"}
    if extra:
        raise ConfigError(
            f"{p}: unknown top-level key(s) {sorted(extra)}; expected [[waiver]] tables"
        )
    entries = doc.get("waiver", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{p}: 'waiver' must be an array of tables ([[waiver]])")
    out = []
    for i, e in enumerate(entries, start=1):
        where = f"{p}: waiver #{i}"
        if not isinstance(e, dict):
            raise ConfigError(f"{where}: must be a table")
        unknown = set(e) - _KEYS
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}")
        rule = e.get("rule")
        if not isinstance(rule, str) or not rule:
            raise ConfigError(f"{where}: 'rule' is required")
        reason = e.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise ConfigError(f"{where}: 'reason' is required")
        owner, ticket = e.get("owner"), e.get("ticket")
        if not owner and not ticket:
            raise ConfigError(f"{where}: 'owner' or 'ticket' is required")
        expires = e.get("expires")
        if expires is not None:
            if isinstance(expires, dt.datetime):
                expires = expires.date()
            elif isinstance(expires, str):
                try:
                    expires = dt.date.fromisoformat(expires)
                except ValueError:
                    raise ConfigError(f"{where}: 'expires' must be a date (YYYY-MM-DD)") from None
            elif not isinstance(expires, dt.date):
                raise ConfigError(f"{where}: 'expires' must be a date (YYYY-MM-DD)")
        out.append(
            Waiver(
                index=i,
                rule=rule,
                reason=reason.strip(),
                owner=owner,
                ticket=ticket,
                expires=expires,
                database=_matcher(e.get("database"), "database", where),
                object=_matcher(e.get("object"), "object", where),
                role=_matcher(e.get("role"), "role", where),
            )
        )
    return out


def apply(
    findings: Iterable[Finding],
    waivers: list[Waiver],
    rule_ids: Mapping[str, str],
    today: dt.date | None = None,
) -> None:
    """Mark waived findings (first matching waiver wins); expired waivers only annotate.

    ``rule_ids`` maps every known id and alias to the canonical rule id.
    """
    today = today or dt.date.today()
    for f in findings:
        for w in waivers:
            if not w.applies_to(f, rule_ids):
                continue
            w.matched += 1
            if w.expired(today):
                f.details["expired_waiver"] = w.describe()
                continue
            f.suppressed = w.describe()
            break


def lint(
    waivers: list[Waiver],
    rule_ids: Mapping[str, str],
    *,
    checked_findings: bool,
    today: dt.date | None = None,
) -> list[str]:
    """Problems worth a reviewer's attention: unknown rules, expired, matched nothing."""
    today = today or dt.date.today()
    problems = []
    for w in waivers:
        label = f"waiver #{w.index} ({w.rule})"
        if w.rule not in rule_ids:
            problems.append(f"{label}: unknown rule id {w.rule!r}")
        if w.expired(today):
            problems.append(f"{label}: expired on {w.expires}")
        if checked_findings and w.matched == 0 and w.rule in rule_ids:
            problems.append(f"{label}: matched no finding")
    return problems
