-- Database and tablespace ACLs (13-14).
-- Order: object class, object, grantee, privilege.
SELECT 'database' AS object_class, d.oid AS object_oid, d.datname::text AS object_name,
       a.grantor AS grantor_oid, a.grantee AS grantee_oid, a.privilege_type AS privilege,
       a.is_grantable AS grantable
FROM pg_catalog.pg_database AS d CROSS JOIN LATERAL pg_catalog.aclexplode(d.datacl) AS a
UNION ALL
SELECT 'tablespace', t.oid, t.spcname::text, a.grantor, a.grantee, a.privilege_type, a.is_grantable
FROM pg_catalog.pg_tablespace AS t CROSS JOIN LATERAL pg_catalog.aclexplode(t.spcacl) AS a
ORDER BY 1, 3, 5, 6
