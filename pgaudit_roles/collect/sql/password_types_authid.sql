-- Superuser only: classify the stored verifier server-side; the hash never leaves the server.
SELECT a.oid AS role_oid,
       CASE WHEN a.rolpassword IS NULL THEN 'none'
            WHEN a.rolpassword ~ '^md5[0-9a-f]{32}$' THEN 'md5'
            WHEN a.rolpassword LIKE 'SCRAM-SHA-256$%' THEN 'scram-sha-256'
            ELSE 'other' END AS password_type
FROM pg_catalog.pg_authid AS a
