-- An empty stored ACL keeps one marker row (grantee NULL): it differs from "no entry".
SELECT d.oid AS oid, d.defaclrole AS creator_oid, d.defaclnamespace AS schema_oid,
       d.defaclobjtype::text AS objtype, a.grantor AS grantor_oid, a.grantee AS grantee_oid,
       a.privilege_type AS privilege, a.is_grantable AS grantable
FROM pg_catalog.pg_default_acl AS d
LEFT JOIN LATERAL pg_catalog.aclexplode(d.defaclacl) AS a ON true
