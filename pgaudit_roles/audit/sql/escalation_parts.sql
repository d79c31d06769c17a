-- DuckDB, over the audit schema, before the escalation edges: which edge statements have
-- rows to start from (escalation.EDGE_PARTS), and the sizes that pick the small path
-- (escalation.small_enough). One row per count, summed per part in Python: a part whose
-- counts are all 0 has none of the rows every branch of its statement starts from, so it
-- adds no edge and is not run. (A UNION of plain counts: planned in half the time of the
-- same tests as EXISTS subqueries, or as scalar subqueries, which cost 5 ms more.)
-- escalation_edges_definer.sql: sd, SECURITY DEFINER routines outside system schemas and
-- extensions (sd also joins their schema: this is a superset)
SELECT 'definer' AS part,
       count(*) FILTER (WHERE security_definer AND NOT is_system AND extension IS NULL) AS n
FROM functions
-- escalation_edges_code.sql: triggers (trg, trg_victims) and event triggers
UNION ALL SELECT 'code', count(*) FROM triggers
UNION ALL SELECT 'code', count(*) FROM event_triggers
-- escalation_edges_grants.sql: parameter privileges and user mappings for PUBLIC. A WHERE,
-- not a FILTER: the class test then reaches the branches of a large snapshot's privileges
-- view (object_acls joined to acl_items) instead of all its rows being joined first and
-- counted (18 million on the bench's large preset: 0.5 -> 0.15 s CPU)
UNION ALL SELECT 'grants', count(*) FROM privileges WHERE object_class = 'parameter'
UNION ALL SELECT 'grants', count(*) FILTER (WHERE user_oid = 0) FROM user_mappings
-- the sizes (escalation.small_enough); privileges counted up to $cap, one more than the
-- small path allows: past that the number changes nothing, and counting a large
-- snapshot's view of them (object_acls joined to acl_items) in full cost 0.5 s
UNION ALL SELECT 'privileges', count(*) FROM (SELECT 1 FROM privileges LIMIT $cap)
UNION ALL SELECT 'memberships', count(*) FROM memberships
UNION ALL SELECT 'roles', count(*) FROM roles
UNION ALL SELECT 'createrole', count(*) FILTER (WHERE createrole AND NOT superuser) FROM roles
