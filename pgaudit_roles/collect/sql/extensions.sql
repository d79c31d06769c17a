SELECT e.oid AS oid, e.extname::text AS name, e.extowner AS owner_oid,
       e.extnamespace AS schema_oid, e.extversion AS version
FROM pg_catalog.pg_extension AS e
