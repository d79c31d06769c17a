-- audit schema loader (_object_acls): the shared objects' ACLs (databases, tablespaces,
-- parameters) as values, as load_acl_keys.sql does for the per-database ones.
INSERT INTO internal.acl_keys
SELECT NULL AS database_oid, object_class, object_oid, 0 AS subid,
       list_sort(list({'grantor_oid': grantor_oid, 'grantee_oid': grantee_oid,
                       'privilege': privilege, 'grantable': grantable}),
                 'ASC', 'NULLS LAST') AS acl
FROM internal.shared_acl_raw
GROUP BY object_class, object_oid
