-- build_inventory: whether inventory_counts_by_acl.sql counts exactly, i.e. no object has
-- both a stored object-level ACL (object_acls, subid 0) and the default state (its
-- privileges would then be counted once from each). A collected snapshot never has one;
-- a snapshot written by hand may.
SELECT NOT EXISTS (
    SELECT 1 FROM object_acls s
    JOIN acl_objects o
      ON o.object_class = s.object_class AND o.object_oid = s.object_oid
     AND (s.database_oid IS NULL OR o.database_oid = s.database_oid)
    WHERE s.subid = 0 AND o.acl_state = 'default'
)
