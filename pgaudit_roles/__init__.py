"""pgaudit-roles: a read-only compliance scanner for PostgreSQL roles and privileges."""

__version__ = "0.1.0"
