-- audit schema loader (_object_acls): each object's (or column's) explicit ACL that came
-- one row per privilege (a snapshot's rows, an archive) as one value, its items in a
-- fixed order (the list sorted once built: an ordered aggregate cost 2.5 times as much):
-- objects with the same ACL get equal values. $databases: only these databases' (NULL:
-- all), so that a large snapshot's lists are built a few databases at a time, well inside
-- the memory cap. (The collector's packed rows: load_acl_texts.sql.)
INSERT INTO internal.acl_keys
SELECT database_oid, object_class, object_oid, subid,
       list_sort(list({'grantor_oid': grantor_oid, 'grantee_oid': grantee_oid,
                       'privilege': privilege, 'grantable': grantable}),
                 'ASC', 'NULLS LAST') AS acl
FROM internal.db_acl_raw
WHERE $databases::BIGINT[] IS NULL OR list_contains($databases::BIGINT[], database_oid)
GROUP BY database_oid, object_class, object_oid, subid
