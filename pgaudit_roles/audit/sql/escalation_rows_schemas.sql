-- DuckDB, over the audit schema: the schemas the small path's SECURITY DEFINER edges read
-- (escalation_rows.definer_edges), with the role that holds each one's owner rights as
-- escalation_edges_definer.sql's direct_holders computes it (NULL database: no such row,
-- as its inner join with databases).
SELECT s.database_oid, s.oid, s.name, s.is_system, d.oid IS NOT NULL AS has_database,
       coalesce(CASE WHEN s.owner = 'pg_database_owner' THEN d.owner_oid END, s.owner_oid)
           AS holder_oid
FROM schemas s LEFT JOIN databases d ON d.oid = s.database_oid
