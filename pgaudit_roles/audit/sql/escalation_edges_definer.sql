-- DuckDB, over the audit schema: the escalation edges of SECURITY DEFINER routines (see
-- escalation_edges.sql). Run only when a SECURITY DEFINER routine outside system schemas
-- and extensions exists (escalation.PARTS_SQL): every branch starts from those (sd).
-- internal.esc_effective (escalation_privileges.sql) holds the effective privileges read.
INSERT INTO escalation_edges BY POSITION  -- the table's column order: database, database_oid,
-- from_kind, from_role, from_oid, from_mode, to_kind, to_node, to_oid, to_mode, kind,
-- full_control, object_identity, evidence, action, fix, fix_rank, then the fix parts
WITH sd AS (  -- SECURITY DEFINER routines outside system schemas and extensions
    SELECT f.*, sc.oid AS schema_oid,
           regexp_extract_all(coalesce(f.search_path, ''), '"(?:[^"]|"")*"|[^,\s"]+') AS tokens
    FROM functions f
    JOIN schemas sc ON sc.database_oid = f.database_oid AND sc.name = f.schema
    WHERE f.security_definer AND NOT f.is_system AND f.extension IS NULL
),
sd_entries AS (  -- the SET search_path entries as the server parses them: quoted ones taken
                 -- as written, others lower-cased; then "$user", quoted or not (the server
                 -- stores it quoted), is the owner (namespace.c compares the parsed name)
    SELECT y.database_oid, y.oid, CASE WHEN y.name = '$user' THEN y.owner ELSE y.name END AS entry
    FROM (SELECT x.database_oid, x.oid, x.owner,
                 CASE WHEN starts_with(x.tok, '"') THEN replace(substr(x.tok, 2, length(x.tok) - 2), '""', '"')
                      ELSE lower(x.tok) END AS name
          FROM (SELECT database_oid, oid, owner, unnest(tokens) AS tok FROM sd) x) y
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
targets AS MATERIALIZED (  -- the schemas a planted object would be found in: on the
                           -- function's search path (any, without one), not a system schema,
    -- and usable by the owner, with whose privileges the search path is resolved (a schema
    -- the owner may not use is skipped). A search path's entries are joined to the schemas'
    -- names rather than each schema of the database tested against them (2 million pairs
    -- looked up on the bench's large preset, 0.4 s CPU); each (routine, schema) pair still
    -- comes once, as the entries are made distinct first
    SELECT f.database_oid, f.oid, f.owner_oid, f.search_path, f.schema_oid, f.schema_name
    FROM (SELECT f.database_oid, f.oid, f.owner_oid, f.search_path, s.oid AS schema_oid,
                 s.name AS schema_name
          FROM sd f
          JOIN schemas s ON s.database_oid = f.database_oid AND NOT s.is_system
          WHERE f.search_path IS NULL
          UNION ALL
          SELECT f.database_oid, f.oid, f.owner_oid, f.search_path, s.oid, s.name
          FROM sd f
          JOIN (SELECT DISTINCT database_oid, oid, entry FROM sd_entries) en
            ON en.database_oid = f.database_oid AND en.oid = f.oid
          JOIN schemas s ON s.database_oid = f.database_oid AND s.name = en.entry
                        AND NOT s.is_system
          WHERE f.search_path IS NOT NULL) f
    WHERE (coalesce((SELECT r.superuser FROM roles r WHERE r.oid = f.owner_oid), false)
           OR EXISTS (SELECT 1 FROM schema_privs ou
                      WHERE ou.database_oid = f.database_oid AND ou.schema_oid = f.schema_oid
                        AND ou.privilege = 'USAGE' AND ou.actor_oid = f.owner_oid)
           OR EXISTS (SELECT 1 FROM schema_privs ou
                      WHERE ou.database_oid = f.database_oid AND ou.schema_oid = f.schema_oid
                        AND ou.privilege = 'USAGE' AND ou.actor_oid = 0))
),
planters AS MATERIALIZED (  -- the (routine, actor) pairs hijack may keep, a superset: the
    -- actor holds CREATE on one of the routine's targets itself, or PUBLIC does and the actor
    -- may execute the routine. Why: the callers are every holder of EXECUTE (through PUBLIC's
    -- grant, every reader role on every routine: 2.5 million rows on the bench's large
    -- preset, whose DISTINCTs spilled past the memory cap) while hijack keeps only those
    -- that may also plant an object; narrowing sd_exec to these pairs first keeps its rows
    -- few, and changes no row of hijack, which tests every condition again
    SELECT t.database_oid, t.oid, w.actor_oid
    FROM targets t
    JOIN schema_privs w ON w.database_oid = t.database_oid AND w.schema_oid = t.schema_oid
                       AND w.privilege = 'CREATE'
    UNION
    SELECT e.database_oid, e.object_oid, e.role_oid
    FROM internal.esc_effective e
    JOIN (SELECT DISTINCT t.database_oid, t.oid
          FROM targets t
          JOIN schema_privs w ON w.database_oid = t.database_oid AND w.schema_oid = t.schema_oid
                             AND w.privilege = 'CREATE' AND w.actor_oid = 0) pt
      ON pt.database_oid = e.database_oid AND pt.oid = e.object_oid
    WHERE e.object_class = 'function' AND e.privilege = 'EXECUTE'
),
sd_exec AS (  -- who may call each function: EXECUTE on it (USAGE on its schema: sd_callable),
              -- only for the planters (the pairs hijack may keep)
    SELECT f.database_oid, f.oid, 0::BIGINT AS actor_oid
    FROM sd f
    JOIN privileges p ON p.object_class = 'function' AND p.database_oid = f.database_oid
                     AND p.object_oid = f.oid AND p.privilege = 'EXECUTE' AND p.grantee_oid = 0
    JOIN planters c ON c.database_oid = f.database_oid AND c.oid = f.oid AND c.actor_oid = 0
    UNION
    SELECT f.database_oid, f.oid, e.role_oid
    FROM sd f
    JOIN internal.esc_effective e ON e.object_class = 'function' AND e.database_oid = f.database_oid
                               AND e.object_oid = f.oid AND e.privilege = 'EXECUTE'
    JOIN planters c ON c.database_oid = e.database_oid AND c.oid = e.object_oid
                   AND c.actor_oid = e.role_oid
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
callers AS MATERIALIZED (  -- callable by a direct holder
    SELECT DISTINCT c.database_oid, c.oid, c.actor_oid
    FROM sd_callable c
    WHERE EXISTS (SELECT 1 FROM direct_holders h
                  WHERE h.database_oid = c.database_oid AND h.actor_oid = c.actor_oid)
),
hijack AS (  -- callable AND able to plant an object the function resolves by name: CREATE on
             -- a target schema held by the caller itself or by PUBLIC. The callers and the
             -- targets are narrowed first, then paired (pairing every caller with every
             -- schema it may create in first was 7 million rows on the bench's large preset)
    SELECT f.database, f.database_oid, f.oid, f.identity, f.kind, f.owner, f.owner_oid,
           f.search_path, f.schema, f.name, f.identity_args, c.actor_oid,
           min(t.schema_name) AS via_schema
    FROM callers c
    JOIN sd f ON f.database_oid = c.database_oid AND f.oid = c.oid
    JOIN targets t ON t.database_oid = f.database_oid AND t.oid = f.oid
                  AND t.owner_oid IS NOT DISTINCT FROM f.owner_oid
                  AND t.search_path IS NOT DISTINCT FROM f.search_path
    WHERE c.actor_oid <> f.owner_oid
      AND EXISTS (SELECT 1 FROM schema_privs w
                  WHERE w.database_oid = c.database_oid AND w.schema_oid = t.schema_oid
                    AND w.privilege = 'CREATE' AND w.actor_oid IN (c.actor_oid, 0))
    GROUP BY ALL
)
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
