-- audit schema loader (_object_acls): each distinct packed ACL the collector sent
-- (grantor:grantee:SELECT,*UPDATE;...: OIDs, * = WITH GRANT OPTION) expanded once, into
-- the value load_acl_keys.sql gives the same ACL read one row per privilege. Each item is
-- split once into its three parts and its OIDs cast once, before its privileges are
-- unnested; coalesce(s[k], '') is split_part's answer for a missing part, so a malformed
-- item fails as it did when columnfile.ACL_ITEMS expanded every object's.
INSERT INTO internal.acl_texts
SELECT items,
       list_sort(list({'grantor_oid': grantor_oid, 'grantee_oid': grantee_oid,
                       'privilege': privilege, 'grantable': grantable}),
                 'ASC', 'NULLS LAST') AS acl
FROM (SELECT items, grantor_oid, grantee_oid,
             CASE WHEN starts_with(p, '*') THEN ltrim(p, '*') ELSE p END AS privilege,
             starts_with(p, '*') AS grantable
      FROM (SELECT items, CAST(coalesce(s[1], '') AS BIGINT) AS grantor_oid,
                   CAST(coalesce(s[2], '') AS BIGINT) AS grantee_oid,
                   unnest(string_split(coalesce(s[3], ''), ',')) AS p
            FROM (SELECT items, string_split(unnest(string_split(items, ';')), ':') AS s
                  FROM (SELECT DISTINCT items FROM internal.db_acl_packed_raw))))
GROUP BY items
