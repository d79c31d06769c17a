-- DuckDB, over the audit schema: the escalation edges of parameter ACLs (15+) on settings
-- that run code, and of user mappings for PUBLIC (see escalation_edges.sql). Run only when
-- a parameter privilege or a user mapping for PUBLIC exists (escalation.PARTS_SQL).
INSERT INTO escalation_edges BY POSITION  -- the table's column order: database, database_oid,
-- from_kind, from_role, from_oid, from_mode, to_kind, to_node, to_oid, to_mode, kind,
-- full_control, object_identity, evidence, action, fix, fix_rank, then the fix parts
-- parameter ACLs (15+) on settings that run code or load libraries
SELECT NULL, NULL, 'role', p.grantee, p.grantee_oid, 'any', 'superuser', 'superuser', NULL, NULL,
       'parameter_acl', true, p.identity,
       CASE WHEN p.grantee_oid = 0 THEN 'PUBLIC' ELSE pg_quote_ident(p.grantee) END
           || ' holds ' || p.privilege || ' on parameter ' || p.object_name || ': ' || x.reason,
       CASE WHEN p.privilege = 'SET' THEN 'SET ' ELSE 'ALTER SYSTEM SET ' END
           || p.identity || ' = ''...'';',
       'REVOKE ' || p.privilege || ' ON PARAMETER ' || p.identity || ' FROM '
           || CASE WHEN p.grantee_oid = 0 THEN 'PUBLIC' ELSE pg_quote_ident(p.grantee) END || ';',
       1,
       'revoke_parameter', NULL, p.grantee, p.grantee_oid = 0, NULL, p.object_name, NULL, NULL, p.privilege
FROM privileges p
JOIN internal.esc_reference x ON x.category = 'parameter' AND x.name = p.object_name
                             AND list_contains(x.privileges, p.privilege)
LEFT JOIN roles g ON g.oid = p.grantee_oid
WHERE p.object_class = 'parameter' AND NOT coalesce(g.superuser, false)
UNION ALL
-- user mappings for PUBLIC: every role with USAGE on the server logs in with their credentials
SELECT u.database, u.database_oid, 'role',
       CASE WHEN p.grantee_oid = 0 THEN 'PUBLIC' ELSE p.grantee END, p.grantee_oid, 'any',
       'remote', u.server, NULL, NULL, 'public_user_mapping', true, pg_quote_ident(u.server),
       CASE WHEN p.grantee_oid = 0 THEN 'PUBLIC' ELSE pg_quote_ident(p.grantee) END
           || ' holds USAGE on foreign server ' || pg_quote_ident(u.server) || ' in database '
           || pg_quote_ident(u.database) || ', which has a user mapping for PUBLIC'
           || CASE WHEN u.option_names IS NOT NULL
                   THEN ' (options: ' || array_to_string(u.option_names, ', ') || ')' ELSE '' END
           || ': every query it sends through the server logs in to the remote side with the stored credentials',
       'CREATE FOREIGN TABLE ... SERVER ' || pg_quote_ident(u.server) || ' ...; SELECT ... FROM it;',
       'DROP USER MAPPING FOR PUBLIC SERVER ' || pg_quote_ident(u.server) || ';', 2,
       'revoke_server_usage', NULL, p.grantee, p.grantee_oid = 0, NULL, u.server, NULL, 'server', 'USAGE'
FROM user_mappings u
JOIN privileges p ON p.object_class = 'server' AND p.database_oid = u.database_oid
                 AND p.object_oid = u.server_oid AND p.privilege = 'USAGE'
LEFT JOIN roles g ON g.oid = p.grantee_oid
WHERE u.user_oid = 0 AND NOT coalesce(g.superuser, false)
