-- 16+: one row per grant (several per pair, one per grantor), options per grant.
SELECT m.roleid AS role_oid, m.member AS member_oid, m.grantor AS grantor_oid,
       m.admin_option AS admin_option, m.inherit_option AS inherit_option,
       m.set_option AS set_option
FROM pg_catalog.pg_auth_members AS m
ORDER BY m.roleid, m.member, m.grantor
