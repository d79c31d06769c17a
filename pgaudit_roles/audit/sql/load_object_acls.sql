-- audit schema loader (_object_acls): each distinct ACL once (acl_items), and which ACL
-- each object or column has (object_acls). Why: a cluster's objects share few ACLs (a
-- schema's tables are granted alike; the bench's large preset: 1.85 million objects and
-- columns, 140,000 distinct ACLs, 18 million privileges), so expanding and naming each
-- distinct ACL once is a fraction of the work of every object's; privileges joins them
-- back. The ids follow the ACLs' order: the same snapshot gives the same ids.
CREATE TABLE internal.acl_ids AS
SELECT acl, CAST(row_number() OVER (ORDER BY acl) AS BIGINT) AS acl_id
FROM (SELECT acl FROM internal.acl_texts UNION SELECT acl FROM internal.acl_keys);
INSERT INTO object_acls BY NAME
SELECT k.database_oid, k.object_class, k.object_oid, k.subid, c.name AS column_name, k.acl_id
FROM (SELECT p.database_oid, p.object_class, p.object_oid, p.subid, i.acl_id
      FROM internal.db_acl_packed_raw p
      JOIN internal.acl_texts t ON t.items = p.items
      JOIN internal.acl_ids i ON i.acl = t.acl
      UNION ALL
      SELECT k.database_oid, k.object_class, k.object_oid, k.subid, i.acl_id
      FROM internal.acl_keys k JOIN internal.acl_ids i ON i.acl = k.acl) k
LEFT JOIN internal.db_columns_raw c
  ON k.object_class = 'column' AND c.database_oid = k.database_oid
 AND c.table_oid = k.object_oid AND c.attnum = k.subid;
INSERT INTO acl_items BY NAME
SELECT x.acl_id, CASE WHEN x.grantee_oid = 0 THEN 'PUBLIC' ELSE g.name END AS grantee,
       x.grantee_oid, gr.name AS grantor, x.grantor_oid, x.privilege, x.grantable
FROM (SELECT acl_id, unnest(acl, recursive := true) FROM internal.acl_ids) x
LEFT JOIN internal.roles_raw g ON g.oid = x.grantee_oid
LEFT JOIN internal.roles_raw gr ON gr.oid = x.grantor_oid
