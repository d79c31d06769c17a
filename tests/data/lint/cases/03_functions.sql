CREATE FUNCTION lc.unsafe() RETURNS int LANGUAGE sql SECURITY DEFINER AS $$ SELECT 1 $$;  -- expect: PGR-LINT-007
CREATE FUNCTION lc.safe() RETURNS int LANGUAGE sql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp AS $$ SELECT 1 $$;          -- pass: PGR-LINT-007
CREATE FUNCTION lc.invoker() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;
ALTER FUNCTION lc.invoker() SECURITY DEFINER;                        -- expect: PGR-LINT-007
REVOKE EXECUTE ON FUNCTION lc.safe() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lc.safe() TO PUBLIC;                       -- expect: PGR-LINT-008
GRANT EXECUTE ON FUNCTION lc.safe() TO db_writer_lc;                 -- pass: PGR-LINT-008
CREATE FUNCTION lc.plain() RETURNS int LANGUAGE sql AS $$ SELECT 2 $$;
GRANT EXECUTE ON FUNCTION lc.plain() TO PUBLIC;                      -- pass: PGR-LINT-008 PGR-LINT-004
