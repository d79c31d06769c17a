SELECT d.oid AS oid, d.datname::text AS name, d.datdba AS owner_oid,
       d.datallowconn AS allow_connections, d.datistemplate AS is_template,
       d.datconnlimit AS connection_limit,
       CASE WHEN d.datacl IS NULL THEN 'default' ELSE 'explicit' END AS acl_state,
       pg_catalog.has_database_privilege(d.oid, 'CONNECT') AS auditor_can_connect
FROM pg_catalog.pg_database AS d
ORDER BY d.datname
