-- audit schema loader (_acl_objects): the rows of acl_objects, in its columns' order; a
-- table filled from this for a small snapshot, a view of it for a large one
-- (audit_schema.privileges_is_view, as privileges_rows.sql).
SELECT d.name AS database, d.oid AS database_oid, 'database' AS object_class,
       d.oid AS object_oid, 'database' AS kind, NULL AS schema,
       d.name AS object_name, d.identity, d.owner, d.owner_oid, d.acl_state,
       false AS is_system
FROM databases d
UNION ALL
SELECT NULL, NULL, 'tablespace', t.oid, 'tablespace', NULL, t.name,
       pg_quote_ident(t.name), t.owner, t.owner_oid, t.acl_state, t.oid < 16384
FROM tablespaces t
UNION ALL
SELECT DISTINCT NULL, NULL, 'parameter', a.object_oid, 'parameter', NULL,
       a.object_name,
       CASE WHEN strpos(a.object_name, '.') > 0
            THEN pg_quote_ident(split_part(a.object_name, '.', 1)) || '.'
                 || pg_quote_ident(substr(a.object_name, strpos(a.object_name, '.') + 1))
            ELSE pg_quote_ident(a.object_name) END,
       NULL, NULL, 'explicit', false
FROM internal.shared_acl_raw a WHERE a.object_class = 'parameter'
UNION ALL
SELECT s.database, s.database_oid, 'schema', s.oid, 'schema', NULL, s.name,
       s.identity, s.owner, s.owner_oid, s.acl_state, s.is_system
FROM schemas s
UNION ALL
SELECT o.database, o.database_oid, o.object_class, o.oid, o.kind, o.schema, o.name,
       o.identity, o.owner, o.owner_oid, o.acl_state, o.is_system
FROM objects o
