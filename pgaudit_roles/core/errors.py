"""Errors that end a command, each carrying the exit code the CLI contract promises.

The CLI prints their message as one line. Anything else is a bug: it exits with its own
code (EXIT_INTERNAL), so a crash in cron or CI never reads as "findings" (1), and shows
its traceback only with ``-v`` so it can be reported.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_COLLECTION = 3
EXIT_INTERNAL = 4
EXIT_INTERRUPTED = 130  # 128 + SIGINT (pgaudit_roles.core.signals)
EXIT_TERMINATED = 143  # 128 + SIGTERM

EXIT_CODES: dict[int, str] = {
    EXIT_OK: "nothing at or above --fail-on; `waivers lint`: the file is clean",
    EXIT_FINDINGS: "findings at or above --fail-on, after baseline and waivers; `diff`: new "
    "findings at or above --fail-on; `waivers lint`: the file has problems",
    EXIT_USAGE: "usage, configuration, rule, waiver or baseline error; an input file that "
    "cannot be read or is malformed; an output file that cannot be written",
    EXIT_COLLECTION: "target unreachable or collection failed",
    EXIT_INTERNAL: "internal error (a bug: `pgaudit-roles -v ...` shows the traceback; please report it)",
    EXIT_INTERRUPTED: "interrupted (SIGINT, Ctrl-C); a rule or `query` running in DuckDB "
    "stops at once",
    EXIT_TERMINATED: "terminated (SIGTERM): e.g. `timeout` in cron",
}
"""Every code any command returns, for ``--help`` and the README table (one source)."""

_TARGET = "SNAPSHOT_OR_DSN is a DSN that cannot be reached or read"
COMMAND_EXITS: dict[str, dict[int, str]] = {
    "baseline create": {0: "baseline written", 3: _TARGET.replace("SNAPSHOT_OR_DSN", "SOURCE")},
    "bootstrap-sql": {0: "script printed"},
    "check": {
        0: "nothing at or above --fail-on (after baseline and waivers)",
        1: "findings at or above --fail-on",
    },
    "collect": {0: "snapshot written", 3: "target unreachable or collection failed"},
    "demo": {
        0: "demo scanned and reports written (its findings do not set the code)",
        3: "no PostgreSQL binaries, or the demo server did not start",
    },
    "diff": {
        0: "no new or widened finding at or above --fail-on",
        1: "a new or widened finding at or above --fail-on (or, with --fail-on-drift, any drift)",
    },
    "explain": {0: "answered", 3: _TARGET},
    "fleet": {
        0: "every target audited, nothing at or above --fail-on",
        1: "a finding at or above --fail-on on any target (a target not audited is one)",
        3: "no target could be audited",
    },
    "history": {0: "trend written (also when no run is recorded)"},
    "lint": {
        0: "nothing at or above --fail-on",
        1: "findings at or above --fail-on",
        3: "the twin's server could not be started",
    },
    "paths": {0: "answered (also when there is no route)", 3: _TARGET},
    "query": {0: "answered", 3: _TARGET},
    "rules list": {0: "listed"},
    "rules new": {0: "draft rule, its cases and framework stubs written, docs regenerated"},
    "rules show": {0: "shown"},
    "scan": {
        0: "nothing at or above --fail-on (after baseline and waivers)",
        1: "findings at or above --fail-on",
        3: "target unreachable or collection failed",
    },
    "twin": {
        0: "twin built (and, with --serve, stopped)",
        3: "no PostgreSQL binaries, or the twin's server did not start",
    },
    "waivers lint": {
        0: "the file is clean",
        1: "the file has problems (unknown rule, expired, unused with --against)",
        3: "--against is a DSN that cannot be reached or read",
    },
    "who-can": {
        0: "answered",
        3: _TARGET + "; or the object is in a database that was not collected (unknown)",
    },
}
"""Per command, what 0, 1 and 3 mean (every command also returns 2, 4, 130 and 143 as in
``EXIT_CODES``). The README's per-command table is generated from it; a test checks that
every command has an entry and that its code uses no exit code missing here."""


class AuditError(Exception):
    """Base class: a problem the user can fix, reported as one line."""

    exit_code = EXIT_USAGE


class UsageError(AuditError):
    """Bad option, bad input file, bad configuration."""

    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """A configuration file or setting that cannot take effect."""


class RuleError(UsageError):
    """A rule file that cannot be loaded or validated."""


class CollectionError(AuditError):
    """The target could not be reached or read."""

    exit_code = EXIT_COLLECTION
