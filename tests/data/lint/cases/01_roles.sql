-- Statement checks on roles. Markers: "expect" = statement finding at this line,
-- "pass" = these rules must not fire here, "twin" = effect-layer finding at this line.
CREATE ROLE db_owner_lc NOLOGIN;                                     -- pass: PGR-LINT-002
CREATE ROLE db_writer_lc NOLOGIN;
CREATE ROLE db_reader_lc NOLOGIN;
CREATE ROLE app_lc LOGIN PASSWORD 'Sup3r-Secret-Lint-Pw' CREATEDB;   -- expect: PGR-LINT-001 PGR-LINT-003 twin: PGR-ROLE-006
CREATE ROLE deploy_lc LOGIN PASSWORD NULL CREATEROLE;                -- pass: PGR-LINT-001 PGR-LINT-003
CREATE ROLE lc_admin   -- expect: PGR-LINT-002
  WITH NOLOGIN
  SUPERUSER;
ALTER ROLE db_reader_lc NOSUPERUSER NOBYPASSRLS;                     -- pass: PGR-LINT-002 PGR-LINT-003
ALTER ROLE db_writer_lc WITH BYPASSRLS;                              -- expect: PGR-LINT-003
ALTER USER app_lc ENCRYPTED PASSWORD 'an0ther-Literal-Pw';           -- expect: PGR-LINT-001
