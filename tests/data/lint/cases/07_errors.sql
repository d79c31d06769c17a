\connect postgres
GRANT SELECT ON lc.no_such_table TO db_reader_lc;                    -- twin: PGR-LINT-015
SELECT 'ünïcödé' AS "naïve", 1;                                      -- pass: PGR-LINT-015
