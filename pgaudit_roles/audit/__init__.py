"""Stage 2, audit: a Snapshot loaded into DuckDB as the documented audit schema.

The loader, effective privileges, built-in ACL defaults, the naming policy, escalation
routes, pg_hba analysis and the limits for user-written SQL over the schema."""
