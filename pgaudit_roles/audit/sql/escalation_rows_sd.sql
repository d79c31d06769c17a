-- DuckDB, over the audit schema: the SECURITY DEFINER routines outside system schemas and
-- extensions, for the small path (escalation_rows): escalation_privileges.sql's sd (every
-- row) and escalation_edges_definer.sql's sd (the rows whose schema was found: has_schema,
-- as its inner join). The SET search_path entries are split and lowercased here, by the
-- same DuckDB functions as sd_entries, so both paths parse them alike; Python only picks
-- each token's form.
SELECT f.database, f.database_oid, f.oid, f.identity, f.kind, f.owner, f.owner_oid,
       f.search_path, f.schema, f.name, f.identity_args, sc.oid AS schema_oid,
       t.tokens, [lower(x) FOR x IN t.tokens] AS lowered,
       sc.database_oid IS NOT NULL AS has_schema
FROM functions f
LEFT JOIN schemas sc ON sc.database_oid = f.database_oid AND sc.name = f.schema,
LATERAL (SELECT regexp_extract_all(coalesce(f.search_path, ''), '"(?:[^"]|"")*"|[^,\s"]+')
                AS tokens) t
WHERE f.security_definer AND NOT f.is_system AND f.extension IS NULL
