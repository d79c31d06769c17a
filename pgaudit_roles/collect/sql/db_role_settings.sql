SELECT s.setdatabase AS database_oid, s.setrole AS role_oid, s.setconfig::text[] AS config
FROM pg_catalog.pg_db_role_setting AS s
ORDER BY s.setdatabase, s.setrole
