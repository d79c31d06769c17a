-- Every schema but TOAST and temporary ones; is_system marks pg_catalog and
-- information_schema.
SELECT n.oid AS oid, n.nspname::text AS name, n.nspowner AS owner_oid,
       CASE WHEN n.nspacl IS NULL THEN 'default' ELSE 'explicit' END AS acl_state,
       n.nspname IN ('pg_catalog', 'information_schema') AS is_system
FROM pg_catalog.pg_namespace AS n
WHERE n.nspname !~ '^pg_(toast|temp_[0-9]+|toast_temp_[0-9]+)$'
