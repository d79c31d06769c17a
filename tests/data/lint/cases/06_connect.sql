CREATE DATABASE lintcase_db;
\connect lintcase_db
-- now in lintcase_db: an included file, then a skipped meta-command
GRANT ALL ON SCHEMA public TO app_lc;                                -- expect: PGR-LINT-005 PGR-LINT-006
\ir ../included/extra.sql
\timing on
