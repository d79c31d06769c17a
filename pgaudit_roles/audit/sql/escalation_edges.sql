-- DuckDB, over the audit schema: one row per escalation edge (see escalation.py and
-- docs/audit-schema.md, table escalation_edges). internal.esc_params holds the server
-- version (v), internal.esc_reference the dangerous roles and code-execution parameters.
-- This statement: the edges of memberships, role attributes and dangerous roles, which
-- every cluster has. escalation_edges_definer.sql, escalation_edges_code.sql and
-- escalation_edges_grants.sql add the others, each run only when the rows it starts from
-- exist (escalation.py: their branches join those rows, so without them they add none).
INSERT INTO escalation_edges BY NAME
WITH ver AS (SELECT v FROM internal.esc_params),
pairs AS (  -- one edge per (member, role): a pair's grant rows OR together (16+)
    SELECT m.role, m.role_oid, m.member, m.member_oid, bool_or(m.admin_option) AS adm,
           bool_or(m.inherit_option) AS inh, bool_or(m.set_option) AS st
    FROM memberships m
    WHERE m.role IS NOT NULL AND m.member IS NOT NULL
    GROUP BY ALL
)
-- membership: SET ROLE
SELECT NULL AS database, NULL AS database_oid, 'role' AS from_kind, p.member AS from_role,
       p.member_oid AS from_oid, 'as' AS from_mode, 'role' AS to_kind, p.role AS to_node,
       p.role_oid AS to_oid, 'as' AS to_mode, 'set_role' AS kind, true AS full_control,
       NULL AS object_identity,
       pg_quote_ident(p.member) || ' is a member of ' || pg_quote_ident(p.role)
           || CASE WHEN ver.v >= 160000 THEN ' with SET TRUE' ELSE '' END
           || ': SET ROLE makes it that role, attributes included' AS evidence,
       'SET ROLE ' || pg_quote_ident(p.role) || ';' AS action,
       'REVOKE ' || pg_quote_ident(p.role) || ' FROM ' || pg_quote_ident(p.member) || ';' AS fix,
       5 AS fix_rank,
       'revoke_membership' AS fix_kind, p.role AS fix_role, p.member AS fix_member,
       false AS fix_public, NULL AS fix_schema, NULL AS fix_name, NULL AS fix_args,
       NULL AS fix_object_kind, NULL AS fix_privilege
FROM pairs p, ver WHERE p.st
UNION ALL
-- membership: INHERIT (privileges, not attributes)
SELECT NULL, NULL, 'role', p.member, p.member_oid, 'any', 'role', p.role, p.role_oid, 'privs',
       'inherit', true, NULL,
       pg_quote_ident(p.member) || ' is a member of ' || pg_quote_ident(p.role)
           || CASE WHEN ver.v >= 160000 THEN ' with INHERIT TRUE' ELSE ' and inherits' END
           || ': it holds that role''s privileges (and owner rights) without SET ROLE',
       NULL,
       'REVOKE ' || pg_quote_ident(p.role) || ' FROM ' || pg_quote_ident(p.member) || ';', 5,
       'revoke_membership', p.role, p.member, false, NULL, NULL, NULL, NULL, NULL
FROM pairs p, ver WHERE p.inh
UNION ALL
-- membership: ADMIN OPTION (grant the role to itself, then SET ROLE)
SELECT NULL, NULL, 'role', p.member, p.member_oid, 'any', 'role', p.role, p.role_oid, 'as',
       'admin_option', true, NULL,
       pg_quote_ident(p.member) || ' holds ADMIN OPTION on ' || pg_quote_ident(p.role)
           || ': it can GRANT that role to itself and SET ROLE to it',
       'GRANT ' || pg_quote_ident(p.role) || ' TO CURRENT_USER'
           || CASE WHEN ver.v >= 160000 THEN ' WITH SET TRUE' ELSE '' END
           || '; SET ROLE ' || pg_quote_ident(p.role) || ';',
       'REVOKE ADMIN OPTION FOR ' || pg_quote_ident(p.role) || ' FROM ' || pg_quote_ident(p.member) || ';',
       4,
       'revoke_admin', p.role, p.member, false, NULL, NULL, NULL, NULL, NULL
FROM pairs p, ver
WHERE p.adm  -- granting a superuser role needs a superuser, ADMIN OPTION or not
  AND NOT coalesce((SELECT r.superuser FROM roles r WHERE r.oid = p.role_oid), false)
UNION ALL
-- CREATEROLE before 16: any non-superuser role, predefined ones included
SELECT NULL, NULL, 'role', c.name, c.oid, 'as', 'role', r.name, r.oid, 'as', 'createrole', true,
       NULL,
       pg_quote_ident(c.name) || ' has CREATEROLE on PostgreSQL ' || (ver.v // 10000)::VARCHAR
           || ' (before 16): it can GRANT any role that is not a superuser, predefined roles included, to itself',
       'GRANT ' || pg_quote_ident(r.name) || ' TO CURRENT_USER; SET ROLE ' || pg_quote_ident(r.name) || ';',
       'ALTER ROLE ' || pg_quote_ident(c.name) || ' NOCREATEROLE;', 6,
       'nocreaterole', NULL, c.name, false, NULL, NULL, NULL, NULL, NULL
FROM roles c, roles r, ver
WHERE ver.v < 160000 AND c.createrole AND NOT c.superuser AND NOT r.superuser
  AND r.oid <> c.oid AND r.name <> 'pg_database_owner'
UNION ALL
-- attributes and roles that are superuser-equivalent or give OS access
SELECT NULL, NULL, 'role', r.name, r.oid, 'as', 'superuser', 'superuser', NULL, NULL,
       'superuser_attribute', true, NULL,
       pg_quote_ident(r.name) || ' has SUPERUSER', NULL,
       'ALTER ROLE ' || pg_quote_ident(r.name) || ' NOSUPERUSER;', 9,
       'nosuperuser', NULL, r.name, false, NULL, NULL, NULL, NULL, NULL
FROM roles r WHERE r.superuser
UNION ALL
SELECT NULL, NULL, 'role', r.name, r.oid, 'any', x.target, x.target, NULL, NULL, x.edge_kind,
       true, NULL, pg_quote_ident(r.name) || ': ' || x.reason, NULL, NULL, 10,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM roles r
JOIN internal.esc_reference x ON x.name = r.name AND x.edge_kind IS NOT NULL
WHERE x.category = 'role' AND (r.predefined OR x.edge_kind = 'managed_admin')
UNION ALL
SELECT NULL, NULL, 'superuser', 'superuser', NULL, 'any', 'os', 'os', NULL, NULL,
       'superuser_os', true, NULL,
       'a superuser runs shell commands as the server''s operating-system user (COPY ... TO PROGRAM)',
       NULL, NULL, 10, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
