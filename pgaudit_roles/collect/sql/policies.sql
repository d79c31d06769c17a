-- Every row-level security policy: command, permissive or restrictive, the roles it
-- applies to (OID 0 = PUBLIC) and its USING / WITH CHECK expressions as the server
-- prints them (pg_get_expr reads the system caches; it takes no lock on the table).
SELECT p.oid AS oid, p.polrelid AS table_oid, p.polname::text AS name,
       CASE p.polcmd WHEN '*' THEN 'ALL' WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT'
                     WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' END AS command,
       p.polpermissive AS permissive,
       ARRAY(SELECT r.oid::bigint FROM pg_catalog.unnest(p.polroles) AS r(oid)) AS role_oids,
       pg_catalog.pg_get_expr(p.polqual, p.polrelid) AS using_expr,
       pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) AS check_expr
FROM pg_catalog.pg_policy AS p
JOIN pg_catalog.pg_class AS c ON c.oid = p.polrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname !~ '^pg_(toast|temp_[0-9]+|toast_temp_[0-9]+)$'
