SELECT s.name::text AS name, s.setting AS setting, s.unit AS unit, s.source AS source
FROM pg_catalog.pg_settings AS s
WHERE s.name = ANY (%(names)s::text[])
ORDER BY s.name
