-- DuckDB, over the audit schema: the membership grants the small path's core edges read
-- (escalation_rows.core_edges: one edge per (member, role), its grant rows ORed together,
-- as escalation_edges.sql's pairs).
SELECT role, role_oid, member, member_oid, admin_option, inherit_option, set_option
FROM memberships
WHERE role IS NOT NULL AND member IS NOT NULL
