ALTER DEFAULT PRIVILEGES IN SCHEMA lc GRANT SELECT ON TABLES TO db_reader_lc;   -- expect: PGR-LINT-009
ALTER DEFAULT PRIVILEGES FOR ROLE db_owner_lc IN SCHEMA lc
  GRANT SELECT ON TABLES TO db_reader_lc;                            -- pass: PGR-LINT-009
GRANT USAGE, CREATE ON SCHEMA lc TO app_lc;
SET ROLE db_owner_lc;
CREATE TABLE lc.items (id int);                                      -- pass: PGR-LINT-010
RESET ROLE;
SET ROLE app_lc;
CREATE TABLE lc.cache (id int);                                      -- expect: PGR-LINT-010
RESET ROLE;
CREATE TABLE lc.audit_log (id int);                                  -- pass: PGR-LINT-010
ALTER ROLE app_lc SET log_statement = 'none';                        -- expect: PGR-LINT-011
ALTER ROLE app_lc SET statement_timeout = '5s';                      -- pass: PGR-LINT-011
ALTER ROLE db_writer_lc SET pgaudit.log = 'none';                    -- expect: PGR-LINT-011
