SELECT p.oid AS oid, p.prosecdef AS security_definer, o.rolsuper AS owner_is_superuser,
       pg_catalog.has_schema_privilege(n.oid, 'USAGE') AS schema_usage,
       pg_catalog.has_function_privilege(p.oid, 'EXECUTE') AS can_execute
FROM pg_catalog.pg_proc AS p
JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_roles AS o ON o.oid = p.proowner
WHERE n.nspname = 'pgaudit_roles' AND p.proname = 'password_types' AND p.pronargs = 0
