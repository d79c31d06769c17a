-- audit schema loader (_privileges): the rows of privileges, in its columns' order; a
-- table filled from this for a small snapshot, a view of it for a large one
-- (audit_schema.privileges_is_view). Explicit ACL items of per-database objects and
-- columns and of shared objects (object_acls joined to acl_items), and the built-in
-- defaults of objects whose ACL is NULL.
SELECT o.database, o.database_oid, s.object_class, o.object_oid, s.subid, o.schema,
       o.object_name, o.identity, s.column_name, o.kind, o.owner, o.owner_oid,
       i.grantee, i.grantee_oid, i.grantor, i.grantor_oid, i.privilege, i.grantable,
       'explicit' AS source, o.is_system
FROM object_acls s
JOIN acl_objects o
  ON o.database_oid = s.database_oid AND o.object_oid = s.object_oid
 AND o.object_class = CASE WHEN s.object_class = 'column' THEN 'relation'
                           ELSE s.object_class END
JOIN acl_items i ON i.acl_id = s.acl_id
UNION ALL
SELECT o.database, o.database_oid, s.object_class, o.object_oid, 0 AS subid, o.schema,
       o.object_name, o.identity, NULL AS column_name, o.kind, o.owner, o.owner_oid,
       i.grantee, i.grantee_oid, i.grantor, i.grantor_oid, i.privilege, i.grantable,
       'explicit' AS source, o.is_system
FROM object_acls s
JOIN acl_objects o ON o.object_class = s.object_class AND o.object_oid = s.object_oid
JOIN acl_items i ON i.acl_id = s.acl_id
WHERE s.database_oid IS NULL
UNION ALL
SELECT o.database, o.database_oid, o.object_class, o.object_oid, 0 AS subid, o.schema,
       o.object_name, o.identity, NULL AS column_name, o.kind, o.owner, o.owner_oid,
       CASE WHEN w.who = 'owner' THEN o.owner ELSE 'PUBLIC' END AS grantee,
       CASE WHEN w.who = 'owner' THEN o.owner_oid ELSE 0 END AS grantee_oid,
       o.owner AS grantor, o.owner_oid AS grantor_oid, t.privilege,
       false AS grantable, 'default' AS source, o.is_system
FROM acl_objects o
JOIN privilege_types t
  ON t.object_class = o.object_class AND (t.kind IS NULL OR t.kind = o.kind)
JOIN (VALUES ('owner'), ('PUBLIC')) w(who)
  ON (w.who = 'owner' AND t.owner_default) OR (w.who = 'PUBLIC' AND t.public_default)
WHERE o.acl_state = 'default' AND o.owner_oid IS NOT NULL
