-- the schema comes from a Flyway placeholder
CREATE SCHEMA IF NOT EXISTS ${flyway:defaultSchema} AUTHORIZATION db_owner_rw;
CREATE TABLE ${flyway:defaultSchema}.orders (id int);
ALTER DEFAULT PRIVILEGES FOR ROLE db_owner_rw IN SCHEMA ${flyway:defaultSchema}  -- expect: PGR-LINT-004
  GRANT SELECT ON TABLES TO public;                                  -- pass: PGR-LINT-009
-- a finding is at the line its statement starts on (4, not 5)
ALTER DEFAULT PRIVILEGES FOR ROLE db_owner_rw GRANT ALL ON SEQUENCES TO db_reader_rw;  -- expect: PGR-LINT-005
GRANT SELECT ON ${flyway:defaultSchema}.orders TO "PUBLIC";          -- pass: PGR-LINT-004
GRANT SELECT ON ${flyway:defaultSchema}.orders TO "public";          -- expect: PGR-LINT-004
GRANT SELECT ON ${flyway:defaultSchema}.orders TO db_reader_rw; REVOKE ALL ON ${flyway:defaultSchema}.orders FROM PUBLIC;  -- pass: PGR-LINT-004
