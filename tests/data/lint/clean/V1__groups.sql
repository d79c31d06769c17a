-- The guide's example production layout, as Flyway migrations (run with --database shopdb).
REVOKE ALL ON DATABASE shopdb FROM PUBLIC;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
CREATE ROLE db_owner_shop NOLOGIN;
CREATE ROLE db_writer_shop NOLOGIN;
CREATE ROLE db_reader_shop NOLOGIN;
