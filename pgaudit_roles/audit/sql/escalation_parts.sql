-- DuckDB, over the audit schema, before the escalation edges: which edge statements have
-- rows to start from (escalation.EDGE_PARTS). Each column tests the rows every branch of
-- one statement starts from, with the same conditions: false means that statement adds
-- no edge, and it is not run. The last column is the size that picks the small path
-- (escalation.SMALL_ROWS).
SELECT
    -- escalation_edges_definer.sql: sd, SECURITY DEFINER routines outside system schemas
    -- and extensions (sd also joins their schema: this is a superset)
    EXISTS (SELECT 1 FROM functions f
            WHERE f.security_definer AND NOT f.is_system AND f.extension IS NULL) AS definer,
    -- escalation_edges_code.sql: triggers (trg, trg_victims) and event triggers
    EXISTS (SELECT 1 FROM triggers) OR EXISTS (SELECT 1 FROM event_triggers) AS code,
    -- escalation_edges_grants.sql: parameter privileges and user mappings for PUBLIC
    EXISTS (SELECT 1 FROM privileges p WHERE p.object_class = 'parameter')
        OR EXISTS (SELECT 1 FROM user_mappings u WHERE u.user_oid = 0) AS grants,
    c.n AS size
-- (a derived table: as three more scalar subqueries the statement cost 5 ms more)
FROM (SELECT sum(n) AS n FROM (SELECT count(*) AS n FROM privileges
                               UNION ALL SELECT count(*) FROM memberships
                               UNION ALL SELECT count(*) FROM roles)) c
