-- DuckDB, over the audit schema: one row per escalation edge (see escalation.py and
-- docs/audit-schema.md, table escalation_edges). internal.esc_params holds the server
-- version (v), internal.esc_reference the dangerous roles and code-execution parameters.
INSERT INTO escalation_edges BY NAME
WITH ver AS (SELECT v FROM internal.esc_params),
pairs AS (  -- one edge per (member, role): a pair's grant rows OR together (16+)
    SELECT m.role, m.role_oid, m.member, m.member_oid, bool_or(m.admin_option) AS adm,
           bool_or(m.inherit_option) AS inh, bool_or(m.set_option) AS st
    FROM memberships m
    WHERE m.role IS NOT NULL AND m.member IS NOT NULL
    GROUP BY ALL
),
sd AS (  -- SECURITY DEFINER routines outside system schemas and extensions
    SELECT f.*, sc.oid AS schema_oid,
           regexp_extract_all(coalesce(f.search_path, ''), '"(?:[^"]|"")*"|[^,\s"]+') AS tokens
    FROM functions f
    JOIN schemas sc ON sc.database_oid = f.database_oid AND sc.name = f.schema
    WHERE f.security_definer AND NOT f.is_system AND f.extension IS NULL
),
sd_entries AS (  -- the SET search_path entries as the server parses them; "$user" is the owner
    SELECT x.database_oid, x.oid,
           CASE WHEN starts_with(x.tok, '"') THEN replace(substr(x.tok, 2, length(x.tok) - 2), '""', '"')
                WHEN lower(x.tok) = '$user' THEN x.owner
                ELSE lower(x.tok) END AS entry
    FROM (SELECT database_oid, oid, owner, unnest(tokens) AS tok FROM sd) x
),
sd_dbs AS (SELECT DISTINCT database_oid FROM sd),
schema_privs AS MATERIALIZED (  -- who may use / create in each schema of those databases: PUBLIC grants,
                   -- and each role's effective privileges (ownership, grants, inheritance)
    SELECT p.database_oid, p.object_oid AS schema_oid, 0::BIGINT AS actor_oid, p.privilege
    FROM privileges p
    WHERE p.object_class = 'schema' AND p.grantee_oid = 0 AND p.privilege IN ('USAGE', 'CREATE')
      AND p.database_oid IN (SELECT database_oid FROM sd_dbs)
    UNION
    SELECT e.database_oid, e.object_oid, e.role_oid, e.privilege
    FROM internal.esc_effective e
    WHERE e.object_class = 'schema' AND e.privilege IN ('USAGE', 'CREATE') AND NOT e.is_system
      AND e.database_oid IN (SELECT database_oid FROM sd_dbs)
),
sd_exec AS (  -- who may call each function: EXECUTE on it and USAGE on its schema
    SELECT f.database_oid, f.oid, 0::BIGINT AS actor_oid
    FROM sd f
    JOIN privileges p ON p.object_class = 'function' AND p.database_oid = f.database_oid
                     AND p.object_oid = f.oid AND p.privilege = 'EXECUTE' AND p.grantee_oid = 0
    UNION
    SELECT f.database_oid, f.oid, e.role_oid
    FROM sd f
    JOIN internal.esc_effective e ON e.object_class = 'function' AND e.database_oid = f.database_oid
                               AND e.object_oid = f.oid AND e.privilege = 'EXECUTE'
),
sd_callable AS MATERIALIZED (  -- USAGE on the schema held by the caller itself or by PUBLIC:
                                -- two equi-joins (a row may come twice; hijack groups)
    SELECT x.database_oid, x.oid, x.actor_oid
    FROM sd_exec x
    JOIN sd f ON f.database_oid = x.database_oid AND f.oid = x.oid
    JOIN schema_privs u ON u.database_oid = x.database_oid AND u.schema_oid = f.schema_oid
                       AND u.privilege = 'USAGE' AND u.actor_oid = x.actor_oid
    UNION ALL
    SELECT x.database_oid, x.oid, x.actor_oid
    FROM sd_exec x
    JOIN sd f ON f.database_oid = x.database_oid AND f.oid = x.oid
    JOIN schema_privs u ON u.database_oid = x.database_oid AND u.schema_oid = f.schema_oid
                       AND u.privilege = 'USAGE' AND u.actor_oid = 0
),
callable_create AS (  -- the schemas each caller may create in, itself or as PUBLIC
    SELECT c.database_oid, c.oid, c.actor_oid, w.schema_oid
    FROM sd_callable c
    JOIN schema_privs w ON w.database_oid = c.database_oid AND w.privilege = 'CREATE'
                       AND w.actor_oid = c.actor_oid
    UNION ALL
    SELECT c.database_oid, c.oid, c.actor_oid, w.schema_oid
    FROM sd_callable c
    JOIN schema_privs w ON w.database_oid = c.database_oid AND w.privilege = 'CREATE'
                       AND w.actor_oid = 0
),
direct_holders AS (  -- roles (or PUBLIC) that hold EXECUTE or CREATE themselves, or own a schema:
                     -- edges start there, members reach them through membership edges
    SELECT p.database_oid, p.grantee_oid AS actor_oid
    FROM privileges p
    WHERE p.database_oid IN (SELECT database_oid FROM sd_dbs)
      AND ((p.object_class = 'function' AND p.privilege = 'EXECUTE'
            AND p.object_oid IN (SELECT oid FROM sd))
           OR (p.object_class = 'schema' AND p.privilege = 'CREATE'))
    UNION
    SELECT s.database_oid, coalesce(CASE WHEN s.owner = 'pg_database_owner' THEN d.owner_oid END,
                                    s.owner_oid)
    FROM schemas s JOIN databases d ON d.oid = s.database_oid
    WHERE NOT s.is_system AND s.database_oid IN (SELECT database_oid FROM sd_dbs)
),
hijack AS (  -- callable AND able to plant an object the function resolves by name
    SELECT f.database, f.database_oid, f.oid, f.identity, f.kind, f.owner, f.owner_oid,
           f.search_path, f.schema, f.name, f.identity_args, c.actor_oid,
           min(s.name) AS via_schema
    FROM callable_create c
    JOIN direct_holders h ON h.database_oid = c.database_oid AND h.actor_oid = c.actor_oid
    JOIN sd f ON f.database_oid = c.database_oid AND f.oid = c.oid
    JOIN schemas s ON s.database_oid = c.database_oid AND s.oid = c.schema_oid AND NOT s.is_system
    WHERE c.actor_oid <> f.owner_oid
      -- the function's search path is resolved with the owner's privileges: a schema the
      -- owner may not use is skipped, so the planted object must be in one it can use
      AND (coalesce((SELECT r.superuser FROM roles r WHERE r.oid = f.owner_oid), false)
           OR EXISTS (SELECT 1 FROM schema_privs ou
                      WHERE ou.database_oid = f.database_oid AND ou.schema_oid = s.oid
                        AND ou.privilege = 'USAGE' AND ou.actor_oid = f.owner_oid)
           OR EXISTS (SELECT 1 FROM schema_privs ou
                      WHERE ou.database_oid = f.database_oid AND ou.schema_oid = s.oid
                        AND ou.privilege = 'USAGE' AND ou.actor_oid = 0))
      AND (f.search_path IS NULL
           OR EXISTS (SELECT 1 FROM sd_entries en
                      WHERE en.database_oid = f.database_oid AND en.oid = f.oid
                        AND en.entry = s.name))
    GROUP BY ALL
),
code_privs AS MATERIALIZED (  -- what function owners may do in each schema: CREATE OR REPLACE needs CREATE
                 -- on the function's schema; without it the owner moves the function (ALTER
                 -- FUNCTION ... SET SCHEMA: USAGE on its schema to name it, CREATE on the new
                 -- one) to a schema it can create in, then replaces it there
    SELECT e.database_oid, e.role_oid, s.name AS schema, e.privilege
    FROM internal.esc_effective e
    JOIN schemas s ON s.database_oid = e.database_oid AND s.oid = e.object_oid AND NOT s.is_system
    WHERE e.object_class = 'schema' AND e.privilege IN ('CREATE', 'USAGE')
      AND e.role_oid IN (SELECT function_owner_oid FROM triggers
                         UNION SELECT function_owner_oid FROM event_triggers)
),
code_replaceable AS (  -- (database, owner, function schema) where the owner can replace it
    SELECT DISTINCT u.database_oid, u.role_oid, u.schema
    FROM code_privs u
    WHERE u.privilege = 'CREATE'
       OR (u.privilege = 'USAGE'
           AND EXISTS (SELECT 1 FROM code_privs c
                       WHERE c.database_oid = u.database_oid AND c.role_oid = u.role_oid
                         AND c.privilege = 'CREATE'))
),
trg AS (  -- enabled triggers whose function runs as the writer (not SECURITY DEFINER)
    SELECT t.*, fn.schema AS fn_schema, fn.name AS fn_name, fn.identity_args AS fn_args,
           fn.kind AS fn_kind
    FROM triggers t
    LEFT JOIN functions fn ON fn.database_oid = t.database_oid AND fn.oid = t.function_oid
    WHERE t.enabled <> 'D' AND NOT coalesce(t.function_security_definer, false)
      AND EXISTS (SELECT 1 FROM code_replaceable c
                  WHERE c.database_oid = t.database_oid AND c.role_oid = t.function_owner_oid
                    AND c.schema = fn.schema)
),
trg_victims AS (  -- whoever writes the table: its owner, and direct grantees of the events
    SELECT t.database, t.database_oid, t.oid, t.name, t.table_identity, t.function_identity,
           t.function_owner, t.function_owner_oid, t.events, t.fn_schema, t.fn_name, t.fn_args,
           t.fn_kind, t.table_owner, t.table_owner AS victim, t.table_owner_oid AS victim_oid,
           'as' AS victim_mode, 'owns the table' AS how
    FROM trg t
    UNION
    SELECT t.database, t.database_oid, t.oid, t.name, t.table_identity, t.function_identity,
           t.function_owner, t.function_owner_oid, t.events, t.fn_schema, t.fn_name, t.fn_args,
           t.fn_kind, t.table_owner, p.grantee, p.grantee_oid, 'privs',
           'holds ' || p.privilege || ' on it'
    FROM trg t
    JOIN privileges p ON p.object_class = 'relation' AND p.database_oid = t.database_oid
                     AND p.object_oid = t.table_oid AND p.grantee_oid <> 0
                     AND list_contains(t.events, p.privilege)
    WHERE t.function_owner_oid <> t.table_owner_oid  -- the owner running code as its writers gains nothing
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
UNION ALL
-- SECURITY DEFINER: arbitrary code as the owner
SELECT h.database, h.database_oid, 'role',
       CASE WHEN h.actor_oid = 0 THEN 'PUBLIC' ELSE a.name END, h.actor_oid, 'any', 'role',
       h.owner, h.owner_oid, 'as', 'security_definer', true, h.identity,
       CASE WHEN h.actor_oid = 0 THEN 'PUBLIC' ELSE pg_quote_ident(a.name) END
           || ' can execute SECURITY DEFINER ' || h.kind || ' ' || h.identity || ' (runs as '
           || pg_quote_ident(h.owner) || ') and can create objects in schema '
           || pg_quote_ident(h.via_schema)
           || CASE WHEN h.search_path IS NULL
                   THEN ', while the function has no SET search_path: the caller''s search_path decides what it calls'
                   ELSE ', which is on the function''s search_path (' || h.search_path || ')' END
           || ': a planted function or operator runs as ' || pg_quote_ident(h.owner),
       'CREATE FUNCTION ' || pg_quote_ident(h.via_schema) || '.<name the body calls>(...) ...; '
           || CASE WHEN h.search_path IS NULL
                   THEN 'SET search_path = ' || pg_quote_ident(h.via_schema) || ', pg_catalog; '
                   ELSE '' END
           || 'SELECT ' || pg_qualified(h.schema, h.name) || '(...);',
       CASE WHEN h.search_path IS NULL
            THEN 'ALTER ' || upper(CASE WHEN h.kind = 'procedure' THEN 'procedure' ELSE 'function' END)
                 || ' ' || h.identity || ' SET search_path = pg_catalog, pg_temp;'
            ELSE 'REVOKE CREATE ON SCHEMA ' || pg_quote_ident(h.via_schema) || ' FROM '
                 || CASE WHEN h.actor_oid = 0 THEN 'PUBLIC' ELSE pg_quote_ident(a.name) END || ';'
       END,
       1,
       CASE WHEN h.search_path IS NULL THEN 'function_search_path' ELSE 'revoke_schema_create' END,
       NULL, CASE WHEN h.actor_oid = 0 THEN NULL ELSE a.name END, h.actor_oid = 0,
       CASE WHEN h.search_path IS NULL THEN h.schema ELSE h.via_schema END, h.name, h.identity_args, h.kind, NULL
FROM hijack h LEFT JOIN roles a ON a.oid = h.actor_oid
WHERE h.actor_oid = 0 OR NOT coalesce(a.superuser, false)
UNION ALL
-- SECURITY DEFINER: only what the body does (not followed by path searches)
SELECT f.database, f.database_oid, 'role',
       CASE WHEN p.grantee_oid = 0 THEN 'PUBLIC' ELSE p.grantee END, p.grantee_oid, 'any',
       'role', f.owner, f.owner_oid, 'privs', 'security_definer_call', false, f.identity,
       CASE WHEN p.grantee_oid = 0 THEN 'PUBLIC' ELSE pg_quote_ident(p.grantee) END
           || ' can execute SECURITY DEFINER ' || f.kind || ' ' || f.identity
           || ', which does what its body does as ' || pg_quote_ident(f.owner),
       'SELECT ' || f.identity || ';',
       'REVOKE EXECUTE ON ' || upper(CASE WHEN f.kind = 'procedure' THEN 'procedure' ELSE 'function' END)
           || ' ' || f.identity || ' FROM '
           || CASE WHEN p.grantee_oid = 0 THEN 'PUBLIC' ELSE pg_quote_ident(p.grantee) END || ';',
       2,
       'revoke_execute', NULL, p.grantee, p.grantee_oid = 0, f.schema, f.name, f.identity_args, f.kind, 'EXECUTE'
FROM sd f
JOIN privileges p ON p.object_class = 'function' AND p.database_oid = f.database_oid
                 AND p.object_oid = f.oid AND p.privilege = 'EXECUTE'
                 AND p.grantee_oid IS DISTINCT FROM f.owner_oid
UNION ALL
-- trigger functions: their owner changes the code that runs as whoever writes the table
SELECT v.database, v.database_oid, 'role', v.function_owner, v.function_owner_oid, 'any', 'role',
       v.victim, v.victim_oid, v.victim_mode, 'trigger_function', true, v.table_identity,
       pg_quote_ident(v.function_owner) || ' owns ' || v.function_identity || ', run by trigger '
           || pg_quote_ident(v.name) || ' on ' || v.table_identity || ' ('
           || array_to_string(v.events, ', ') || '); ' || pg_quote_ident(v.victim) || ' '
           || v.how || ', so when it writes the table code the function owner writes runs as '
           || pg_quote_ident(v.victim)
           || ' (CREATE OR REPLACE, after moving the function to a schema it can create in if need be)',
       'CREATE OR REPLACE FUNCTION ' || v.function_identity || ' ... (the new body); -- then wait for '
           || pg_quote_ident(v.victim) || ' to write ' || v.table_identity,
       'ALTER FUNCTION ' || v.function_identity || ' OWNER TO '
           || pg_quote_ident(v.table_owner) || ';',
       3,
       CASE WHEN v.fn_name IS NOT NULL THEN 'function_owner' END, v.table_owner, NULL, false, v.fn_schema, v.fn_name, v.fn_args, v.fn_kind, NULL
FROM trg_victims v
JOIN roles fo ON fo.oid = v.function_owner_oid
WHERE v.victim_oid <> v.function_owner_oid AND NOT fo.superuser
UNION ALL
-- event triggers: DDL by any role (superusers included) runs the function as that role
SELECT e.database, e.database_oid, 'role', e.function_owner, e.function_owner_oid, 'any',
       'superuser', 'superuser', NULL, NULL, 'event_trigger', true, e.function_identity,
       pg_quote_ident(e.function_owner) || ' owns ' || e.function_identity
           || ', the function of event trigger ' || pg_quote_ident(e.name) || ' (' || e.event
           || '): the next DDL statement of any role, superusers included, runs code the function owner '
           || 'writes (CREATE OR REPLACE, after moving the function to a schema it can create in if need be) as that role',
       'CREATE OR REPLACE FUNCTION ' || e.function_identity || ' ... (the new body); -- then wait for a superuser''s DDL',
       'ALTER FUNCTION ' || e.function_identity || ' OWNER TO ' || pg_quote_ident(e.owner) || ';', 3,
       CASE WHEN fn.name IS NOT NULL THEN 'function_owner' END, e.owner, NULL, false, fn.schema, fn.name, fn.identity_args, fn.kind, NULL
FROM event_triggers e
LEFT JOIN functions fn ON fn.database_oid = e.database_oid AND fn.oid = e.function_oid
JOIN roles fo ON fo.oid = e.function_owner_oid
WHERE e.enabled <> 'D' AND NOT coalesce(e.function_security_definer, false) AND NOT fo.superuser
  AND EXISTS (SELECT 1 FROM code_replaceable c
              WHERE c.database_oid = e.database_oid AND c.role_oid = e.function_owner_oid
                AND c.schema = fn.schema)
UNION ALL
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
