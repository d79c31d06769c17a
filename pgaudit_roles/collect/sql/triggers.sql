-- User triggers (not the internal ones behind foreign keys) with the function they run
-- and its owner: code that runs as whoever writes the table.
SELECT t.oid AS oid, t.tgrelid AS table_oid, t.tgname::text AS name,
       t.tgfoid AS function_oid, p.proowner AS function_owner_oid,
       t.tgfoid::pg_catalog.regprocedure::text AS function_identity,
       p.prosecdef AS function_security_definer,
       ARRAY(SELECT e.word FROM (VALUES (4, 'INSERT'), (8, 'DELETE'), (16, 'UPDATE'),
                                        (32, 'TRUNCATE')) AS e(bit, word)
             WHERE (t.tgtype::int & e.bit) <> 0 ORDER BY e.bit) AS events,
       t.tgenabled::text AS enabled
FROM pg_catalog.pg_trigger AS t
JOIN pg_catalog.pg_class AS c ON c.oid = t.tgrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_proc AS p ON p.oid = t.tgfoid
WHERE NOT t.tgisinternal
  AND n.nspname !~ '^pg_(toast|temp_[0-9]+|toast_temp_[0-9]+)$'
