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
