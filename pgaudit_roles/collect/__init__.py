"""Stage 1, collect: read a live cluster (or a pg_hba.conf file) into a Snapshot.

Connection settings, the per-version catalog queries, the snapshot format and its checks,
the column spool, the offline pg_hba parser and the coverage record of what was read."""
