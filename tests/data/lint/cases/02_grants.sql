CREATE SCHEMA lc AUTHORIZATION db_owner_lc;
CREATE TABLE lc.orders (id int);
ALTER TABLE lc.orders OWNER TO db_owner_lc;
GRANT SELECT ON lc.orders TO PUBLIC;                                 -- expect: PGR-LINT-004
GRANT SELECT ON lc.orders TO db_reader_lc;                           -- pass: PGR-LINT-004 PGR-LINT-005
GRANT ALL ON lc.orders TO db_writer_lc;                              -- expect: PGR-LINT-005
GRANT SELECT, INSERT, UPDATE, DELETE ON lc.orders TO db_writer_lc;   -- pass: PGR-LINT-005
GRANT CREATE ON SCHEMA public TO db_writer_lc;                       -- expect: PGR-LINT-006
GRANT USAGE ON SCHEMA public TO db_reader_lc;                        -- pass: PGR-LINT-006
GRANT CREATE ON SCHEMA lc TO db_owner_lc;                            -- pass: PGR-LINT-006
GRANT pg_read_server_files TO db_writer_lc;                          -- expect: PGR-LINT-012
GRANT pg_monitor TO db_reader_lc;                                    -- pass: PGR-LINT-012
REVOKE SELECT ON lc.orders FROM PUBLIC;                              -- pass: PGR-LINT-004
GRANT pg_signal_backend TO db_reader_lc;                             -- expect: PGR-LINT-017
GRANT pg_signal_backend TO lc_admin;                                 -- pass: PGR-LINT-017
