-- Flyway: roles, idempotent, the password from a placeholder
CREATE ROLE db_owner_rw NOLOGIN;                                     -- pass: PGR-LINT-002
CREATE ROLE db_reader_rw NOLOGIN;
CREATE ROLE app_rw LOGIN PASSWORD '${app_password}';                 -- pass: PGR-LINT-001
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'svc_rw') THEN
    CREATE ROLE svc_rw LOGIN PASSWORD 'Realworld-Do-Pw-1';          -- expect: PGR-LINT-001
  END IF;
  EXECUTE 'GRANT ALL ON SCHEMA public TO PUBLIC';                    -- expect: PGR-LINT-004 PGR-LINT-005 PGR-LINT-006
  EXECUTE format('CREATE ROLE %I SUPERUSER', 'not_seen');
  RAISE NOTICE 'GRANT ALL ON t TO PUBLIC (a string, not a statement)';
END
$$;
DO $$ BEGIN ALTER ROLE db_reader_rw SUPERUSER; END $$;               -- expect: PGR-LINT-002
