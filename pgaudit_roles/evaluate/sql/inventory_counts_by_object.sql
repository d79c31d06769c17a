-- build_inventory: grantee_counts, the number of distinct objects each role the chosen
-- login roles inherit from (paths) holds per database, privilege, class and kind of grant,
-- counted over privileges' rows. See inventory_counts_by_acl.sql for the same counts read
-- from the distinct ACLs.
grantee_counts AS (
    SELECT database_oid, grantee_oid, privilege, columns, object_class, count(*) AS objects
    FROM (SELECT DISTINCT database_oid, grantee_oid, privilege, subid > 0 AS columns,
                 object_class, object_oid, subid
          FROM privileges
          WHERE grantee_oid IN (SELECT role_oid FROM paths)
            AND NOT coalesce(is_system, false))
    GROUP BY ALL
)
