-- Function facts the rules need: SECURITY DEFINER, proconfig, language, LEAKPROOF.
-- Scope: schemas matching ^pg_(toast|temp_N|toast_temp_N)$ are never descended into
-- (TOAST storage, other sessions' temporary schemas); in pg_catalog and
-- information_schema only objects whose ACL was changed are listed.
--
SELECT p.oid AS oid, p.prosecdef AS security_definer, p.proconfig::text[] AS config,
       l.lanname::text AS language, p.proleakproof AS leakproof
FROM pg_catalog.pg_proc AS p
JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_language AS l ON l.oid = p.prolang
WHERE n.nspname !~ '^pg_(toast|temp_[0-9]+|toast_temp_[0-9]+)$' AND (n.nspname NOT IN ('pg_catalog', 'information_schema') OR p.proacl IS NOT NULL)
