"""Errors that end a command, each carrying the exit code the CLI contract promises.

The CLI catches only these and prints their message as one line; anything else is a bug
and keeps its traceback (with ``-v``) so it can be reported.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_COLLECTION = 3


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
