SELECT a.pid AS pid, a.usename::text AS role_name, a.datname::text AS database,
       pg_catalog.host(a.client_addr) AS client_addr, a.application_name AS application_name,
       a.backend_type AS backend_type, a.state AS state, s.ssl AS ssl
FROM pg_catalog.pg_stat_activity AS a
LEFT JOIN pg_catalog.pg_stat_ssl AS s ON s.pid = a.pid
WHERE a.pid <> pg_catalog.pg_backend_pid()
ORDER BY a.pid
