SELECT t.oid AS oid, t.spcname::text AS name, t.spcowner AS owner_oid,
       CASE WHEN t.spcacl IS NULL THEN 'default' ELSE 'explicit' END AS acl_state
FROM pg_catalog.pg_tablespace AS t
ORDER BY t.spcname
