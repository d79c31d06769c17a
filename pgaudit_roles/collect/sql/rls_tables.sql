-- Tables and partitioned tables with row-level security switched on or forced, or with
-- at least one policy (policies on a table with RLS off are a finding of their own).
-- Same text on 13-18; readable by any role (pg_class, pg_policy are PUBLIC).
SELECT c.oid AS table_oid, c.relrowsecurity AS row_security,
       c.relforcerowsecurity AS force_row_security
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND n.nspname !~ '^pg_(toast|temp_[0-9]+|toast_temp_[0-9]+)$'
  AND (c.relrowsecurity OR c.relforcerowsecurity
       OR EXISTS (SELECT FROM pg_catalog.pg_policy AS p WHERE p.polrelid = c.oid))
