-- 13-15: no per-grant options. Inheritance follows the member's rolinherit; SET ROLE is
-- always possible for a member.
SELECT m.roleid AS role_oid, m.member AS member_oid, m.grantor AS grantor_oid,
       m.admin_option AS admin_option, r.rolinherit AS inherit_option, true AS set_option
FROM pg_catalog.pg_auth_members AS m
JOIN pg_catalog.pg_roles AS r ON r.oid = m.member
ORDER BY m.roleid, m.member, m.grantor
