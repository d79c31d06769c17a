-- DuckDB, run before escalation_edges.sql: the rows of effective_privileges that the edges
-- read (schema USAGE/CREATE and EXECUTE on SECURITY DEFINER routines), a superset of what
-- each of its three readers filters for. Expanded once here instead of inlining the view
-- three times into the edge statement, whose planning then dominated the load. Created
-- and dropped inside one transaction with its readers (escalation._sql_edges): never
-- committed, so never compressed at a checkpoint.
--
-- Only for the roles those readers keep (readers): the view gives every role each PUBLIC
-- grant (EXECUTE on every function by default) and every superuser everything, which on a
-- cluster of 20,000 roles and 100,000 functions is hundreds of millions of rows, more than
-- the memory cap. escalation_edges_definer.sql keeps a caller's row only when the caller is
-- a direct holder (a grantee of EXECUTE on the routine or of CREATE on a schema, or a
-- schema's owner: its direct_holders), and the routine owner's USAGE; PUBLIC's own rows it
-- reads from privileges. escalation_edges_code.sql keeps the trigger and event trigger
-- function owners' rows.
--
-- The view's four branches (effective.EFFECTIVE_PRIVILEGES_SQL: grants through the
-- inheriting closure, PUBLIC's grants, predefined roles', superusers') are written out here
-- with the readers and the classes applied to each before its join, giving the same rows
-- (duplicates included): filtering the view instead, DuckDB expanded PUBLIC's grants for
-- every role first (2 billion rows on the bench's large preset, 35 s) and kept the readers'
-- afterwards. The view's grant-option join and system-catalog filter change no row kept
-- here (grantable is not read; the filter is about relations).
CREATE OR REPLACE TABLE internal.esc_effective AS
WITH sd AS MATERIALIZED (
    SELECT database_oid, oid, owner_oid FROM functions
    WHERE security_definer AND NOT is_system AND extension IS NULL
),
grants AS MATERIALIZED (  -- the stored grants kept: schema USAGE/CREATE, EXECUTE on sd
    -- two branches, not one OR: each class filter then reaches privileges' own branches
    -- (a view of object_acls and acl_items on a large snapshot: 5.0 -> 0.55 s there)
    SELECT p.database_oid, p.object_class, p.object_oid, p.grantee_oid, p.privilege,
           p.is_system
    FROM privileges p
    WHERE p.object_class = 'schema' AND p.privilege IN ('USAGE', 'CREATE')
    UNION ALL
    SELECT p.database_oid, p.object_class, p.object_oid, p.grantee_oid, p.privilege,
           p.is_system
    FROM privileges p
    WHERE p.object_class = 'function' AND p.privilege = 'EXECUTE'
      AND EXISTS (SELECT 1 FROM sd WHERE sd.database_oid = p.database_oid
                                     AND sd.oid = p.object_oid)
),
readers AS (
    SELECT grantee_oid AS role_oid
    FROM grants
    WHERE grantee_oid <> 0 AND (object_class = 'function' OR privilege = 'CREATE')
    UNION
    SELECT coalesce(CASE WHEN s.owner = 'pg_database_owner' THEN d.owner_oid END, s.owner_oid)
    FROM schemas s JOIN databases d ON d.oid = s.database_oid
    WHERE NOT s.is_system
    UNION
    SELECT owner_oid FROM sd
    UNION
    SELECT function_owner_oid FROM triggers
    UNION
    SELECT function_owner_oid FROM event_triggers
),
subjects AS MATERIALIZED (  -- the view's subjects, only the readers
    SELECT oid, superuser FROM roles
    WHERE NOT (predefined AND starts_with(name, 'pg_'))
      AND oid IN (SELECT role_oid FROM readers)
),
objects_kept AS MATERIALIZED (  -- acl_objects kept: schemas, sd
    -- two branches, not one OR, as in grants: the routines' lookup then reads only the
    -- routines (under the OR it ran on every object: 1.4 million on the bench's large
    -- preset, 0.25 s of CPU), and each class filter reaches acl_objects' own branches
    SELECT o.database_oid, o.object_class, o.object_oid, o.kind, o.is_system
    FROM acl_objects o
    WHERE o.object_class = 'schema'
    UNION ALL
    SELECT o.database_oid, o.object_class, o.object_oid, o.kind, o.is_system
    FROM acl_objects o
    WHERE o.object_class = 'function'
      AND EXISTS (SELECT 1 FROM sd WHERE sd.database_oid = o.database_oid
                                     AND sd.oid = o.object_oid)
),
granted AS NOT MATERIALIZED (  -- the view's first two branches: grants through the
                                -- inheriting closure, and PUBLIC's
    SELECT p.database_oid, p.object_class, p.object_oid, s.oid AS role_oid, p.privilege,
           p.is_system
    FROM grants p
    JOIN internal.inherit_closure c
      ON c.role_oid = p.grantee_oid
     AND (c.database_oid IS NULL OR c.database_oid = p.database_oid)
    JOIN subjects s ON s.oid = c.member_oid AND NOT s.superuser
    WHERE p.grantee_oid <> 0
    UNION ALL
    SELECT p.database_oid, p.object_class, p.object_oid, s.oid, p.privilege, p.is_system
    FROM grants p JOIN subjects s ON NOT s.superuser
    WHERE p.grantee_oid = 0
),
by_role AS (  -- the other two: predefined roles' privileges, superusers'
    SELECT o.database_oid, o.object_class, o.object_oid, s.oid AS role_oid, v.privilege,
           o.is_system
    FROM objects_kept o
    JOIN predefined_privileges v
      ON v.object_class = o.object_class AND (v.kind IS NULL OR v.kind = o.kind)
    JOIN roles pr ON pr.name = v.role AND pr.predefined
    JOIN internal.inherit_closure c
      ON c.role_oid = pr.oid
     AND (c.database_oid IS NULL OR c.database_oid = o.database_oid)
    JOIN subjects s ON s.oid = c.member_oid AND NOT s.superuser
    UNION ALL
    SELECT o.database_oid, o.object_class, o.object_oid, s.oid, t.privilege, o.is_system
    FROM objects_kept o
    JOIN privilege_types t
      ON t.object_class = o.object_class AND (t.kind IS NULL OR t.kind = o.kind)
    JOIN subjects s ON s.superuser
)
-- The readers' test (the last branch's WHERE) split by class for the granted rows: grants
-- keeps only schema USAGE/CREATE and EXECUTE on sd, so its routines' rows pass as they are
-- and are kept untested, skipping the test's lookups (PUBLIC's EXECUTE for every reader:
-- 2.5 million rows on the bench's large preset); each row still comes once, by its class
SELECT * FROM granted WHERE object_class = 'function'
UNION ALL
SELECT * FROM granted
WHERE object_class = 'schema'
  AND (database_oid IN (SELECT database_oid FROM sd)
       OR role_oid IN (SELECT function_owner_oid FROM triggers
                       UNION SELECT function_owner_oid FROM event_triggers))
UNION ALL
SELECT e.database_oid, e.object_class, e.object_oid, e.role_oid, e.privilege, e.is_system
FROM by_role e
WHERE ((e.object_class = 'schema' AND e.privilege IN ('USAGE', 'CREATE')
        AND (e.database_oid IN (SELECT database_oid FROM sd)
             OR e.role_oid IN (SELECT function_owner_oid FROM triggers
                               UNION SELECT function_owner_oid FROM event_triggers)))
       OR (e.object_class = 'function' AND e.privilege = 'EXECUTE'
           AND EXISTS (SELECT 1 FROM sd WHERE sd.database_oid = e.database_oid
                                          AND sd.oid = e.object_oid)))
