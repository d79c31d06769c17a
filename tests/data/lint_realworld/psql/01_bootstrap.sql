-- psql script: run as psql -v app_pw=... -f 01_bootstrap.sql
\set ON_ERROR_STOP on
\set owner db_owner_ps
\set legacy_pw 'Realworld-Set-Pw-2'
SELECT format('CREATE ROLE %I NOLOGIN', :'owner')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner')\gexec
CREATE ROLE app_ps LOGIN PASSWORD :'app_pw';                         -- pass: PGR-LINT-001
CREATE ROLE legacy_ps LOGIN PASSWORD :'legacy_pw';                   -- expect: PGR-LINT-001
CREATE ROLE etl_ps LOGIN IN ROLE pg_read_all_data;                   -- expect: PGR-LINT-012
CREATE ROLE grp_ps ROLE pg_monitor;                                  -- pass: PGR-LINT-012
ALTER GROUP pg_write_all_data ADD USER etl_ps;                       -- expect: PGR-LINT-012
ALTER GROUP pg_write_all_data DROP USER etl_ps;                      -- pass: PGR-LINT-012
GRANT pg_read_server_files TO etl_ps WITH INHERIT FALSE, SET FALSE;  -- pass: PGR-LINT-012
GRANT pg_read_server_files TO etl_ps WITH ADMIN TRUE;                -- expect: PGR-LINT-012
CREATE TABLE lookup (id int, note text);
COPY lookup (id, note) FROM stdin;
1	GRANT ALL ON lookup TO PUBLIC;
2	it's data; CREATE ROLE x SUPERUSER;
\.
GRANT SELECT ON lookup TO PUBLIC;                                    -- expect: PGR-LINT-004
\copy lookup from stdin with (format csv)
3,"ALTER ROLE app_ps SUPERUSER;"
\.
ALTER TABLE :"owner_schema".lookup OWNER TO :"owner";
SELECT 1 \g
ALTER ROLE app_ps SUPERUSER; GRANT ALL ON lookup TO PUBLIC;          -- expect: PGR-LINT-002 PGR-LINT-004 PGR-LINT-005
