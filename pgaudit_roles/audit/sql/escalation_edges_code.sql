-- DuckDB, over the audit schema: the escalation edges of trigger and event trigger
-- functions whose owner can replace their code (see escalation_edges.sql). Run only when
-- a trigger or an event trigger exists (escalation.PARTS_SQL): each branch starts from one.
INSERT INTO escalation_edges BY POSITION  -- the table's column order: database, database_oid,
-- from_kind, from_role, from_oid, from_mode, to_kind, to_node, to_oid, to_mode, kind,
-- full_control, object_identity, evidence, action, fix, fix_rank, then the fix parts
WITH code_privs AS MATERIALIZED (  -- what function owners may do in each schema: CREATE OR REPLACE needs CREATE
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
