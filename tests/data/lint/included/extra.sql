-- included with \ir from cases/06_connect.sql
CREATE TABLE public.extra (id int);
GRANT SELECT ON ALL TABLES IN SCHEMA public TO PUBLIC;               -- expect: PGR-LINT-004
