-- The fixture layout: the production role guide's example plus the edge cases the
-- collector, the rules and the reports must get right. Applied by
-- tests/layouts/__init__.py:apply_fixture_layout(pg, dbname).
--
-- Sections: "-- @section roles" runs once per server (roles are cluster-wide), in
-- database postgres; "-- @section database" runs in each layout database, with :"db"
-- replaced by the quoted database name. A section may be limited to versions with
-- "pg>=16" or "pg<16". Each section runs as one transaction, as the superuser.
--
-- Deliberate mistakes (for the rules) are marked MISTAKE.

-- @section roles
-- The guide: group roles (NOLOGIN), login roles, memberships.
CREATE ROLE db_owner_app NOLOGIN;
CREATE ROLE db_writer_app NOLOGIN;
CREATE ROLE db_reader_app NOLOGIN;
CREATE ROLE deploy_app LOGIN;
GRANT db_owner_app TO deploy_app;
CREATE ROLE app_user LOGIN;
GRANT db_writer_app TO app_user;
CREATE ROLE analyst_jane LOGIN;
GRANT db_reader_app TO analyst_jane;
CREATE ROLE monitoring_agent LOGIN;
GRANT pg_monitor TO monitoring_agent;
ALTER ROLE app_user NOCREATEROLE NOCREATEDB CONNECTION LIMIT 20;
COMMENT ON ROLE db_owner_app IS 'owns app_data <b>objects</b>';

-- Edge cases.
CREATE ROLE fx_noinherit LOGIN NOINHERIT;            -- NOINHERIT member
GRANT db_reader_app TO fx_noinherit;
CREATE ROLE fx_inherit_false LOGIN;                  -- 16+: WITH INHERIT FALSE (below)
CREATE ROLE fx_set_false LOGIN;                      -- 16+: WITH SET FALSE (below)
CREATE ROLE fx_admin LOGIN;
GRANT db_reader_app TO fx_admin WITH ADMIN OPTION;   -- MISTAKE: admin option on a login role
CREATE ROLE fx_superuser_app LOGIN SUPERUSER;        -- MISTAKE: superuser app role
CREATE ROLE fx_expiring LOGIN CONNECTION LIMIT 5 VALID UNTIL '2030-01-02 03:04:05+00';
-- Passwords as pre-computed verifiers: no cleartext password reaches the server log.
CREATE ROLE fx_md5 LOGIN PASSWORD 'md5114ab757b38421d8f97e631c56141ba5';   -- MISTAKE: md5
CREATE ROLE fx_scram LOGIN PASSWORD 'SCRAM-SHA-256$4096:D9LutEYxsToJeQMtoJPyCg==$yr901urYAW998CvGaOgM+k1iE7CA8OasxYfAX/T8Ir0=:Z+6V0lxLQrYAL1IzPGA8SgleCant4Aw3YzcE+q6NHhA=';
ALTER ROLE fx_md5 SET log_statement = 'none';         -- MISTAKE: switches off auditing
ALTER ROLE fx_md5 SET search_path = "$user", public;
-- A hostile name: double quote, single quote, <script>, newline, unicode, spaces.
CREATE ROLE U&"fx ""q'uote <script>alert(1)</script>\000Anaïve \2603" LOGIN;
GRANT db_reader_app TO U&"fx ""q'uote <script>alert(1)</script>\000Anaïve \2603";

-- @section roles pg>=16
GRANT db_writer_app TO fx_inherit_false WITH INHERIT FALSE;
GRANT db_owner_app TO fx_set_false WITH SET FALSE;

-- @section roles pg<16
GRANT db_writer_app TO fx_inherit_false;
GRANT db_owner_app TO fx_set_false;

-- @section roles pg>=15
GRANT SET ON PARAMETER log_statement TO deploy_app;   -- parameter ACL (15+)

-- @section database
-- 1) The guide: reduce default privileges. CONNECT goes back to the app roles and to
--    pg_monitor (so monitoring and the auditor may enter).
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO db_owner_app, db_writer_app, db_reader_app, pg_monitor;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO deploy_app WITH GRANT OPTION;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
ALTER ROLE app_user IN DATABASE :"db" SET statement_timeout = '5s';

-- 3) Schema owned by the owner role; 4) usage for writer and reader.
CREATE SCHEMA app_data AUTHORIZATION db_owner_app;
GRANT USAGE ON SCHEMA app_data TO db_writer_app, db_reader_app;

-- 5) Default privileges, per schema (the guide) ...
ALTER DEFAULT PRIVILEGES FOR ROLE db_owner_app IN SCHEMA app_data
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO db_writer_app;
ALTER DEFAULT PRIVILEGES FOR ROLE db_owner_app IN SCHEMA app_data
  GRANT SELECT ON TABLES TO db_reader_app;
-- ... and global: sequences for the writer; no EXECUTE for PUBLIC on new functions.
ALTER DEFAULT PRIVILEGES FOR ROLE db_owner_app GRANT USAGE, SELECT ON SEQUENCES TO db_writer_app;
ALTER DEFAULT PRIVILEGES FOR ROLE db_owner_app REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
-- A global entry whose ACL is empty (not even the creator keeps USAGE on new types).
ALTER DEFAULT PRIVILEGES FOR ROLE deploy_app REVOKE ALL ON TYPES FROM PUBLIC, deploy_app;

-- Objects of every kind, created by the owner role (as deploy_app would).
SET ROLE db_owner_app;
CREATE TABLE app_data.customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                                 name text, email text, ssn text);
CREATE TABLE app_data.orders (id bigserial PRIMARY KEY,
                              customer_id bigint REFERENCES app_data.customers, total numeric);
CREATE TABLE app_data.events (id bigint, at timestamptz) PARTITION BY RANGE (at);
CREATE TABLE app_data.events_2024 PARTITION OF app_data.events
  FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE VIEW app_data.customer_names AS SELECT id, name FROM app_data.customers;
CREATE MATERIALIZED VIEW app_data.order_totals AS
  SELECT customer_id, sum(total) AS total FROM app_data.orders GROUP BY customer_id;
CREATE SEQUENCE app_data.invoice_seq;
CREATE TYPE app_data.order_status AS ENUM ('new', 'paid');
CREATE DOMAIN app_data.email_address AS text CHECK (VALUE LIKE '%@%');
CREATE TYPE app_data.amount_range AS RANGE (subtype = numeric);
CREATE TYPE app_data.postal_address AS (street text, city text);
CREATE FUNCTION app_data.order_count() RETURNS bigint LANGUAGE sql STABLE
  AS 'SELECT count(*) FROM app_data.orders';
CREATE FUNCTION app_data.sd_no_search_path(customer bigint) RETURNS int
  LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';          -- MISTAKE: no fixed search_path
CREATE FUNCTION app_data.sd_fixed_search_path() RETURNS int
  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS 'SELECT 1';
CREATE PROCEDURE app_data.archive_orders(before date) LANGUAGE sql AS 'SELECT 1';
CREATE AGGREGATE app_data.total_sum(numeric) (SFUNC = numeric_add, STYPE = numeric);
RESET ROLE;

-- Column grants, grant option, PUBLIC grants, an empty explicit ACL.
GRANT SELECT (id, name) ON app_data.customers TO analyst_jane;   -- MISTAKE: to a login role
GRANT UPDATE (email) ON app_data.customers TO db_writer_app;
GRANT SELECT ON app_data.orders TO db_writer_app WITH GRANT OPTION;  -- MISTAKE: grant option
GRANT SELECT ON app_data.customer_names TO PUBLIC;               -- MISTAKE: PUBLIC
GRANT EXECUTE ON FUNCTION app_data.sd_no_search_path(bigint) TO PUBLIC;  -- MISTAKE
GRANT USAGE ON TYPE app_data.order_status TO db_writer_app;
REVOKE ALL ON SEQUENCE app_data.invoice_seq FROM db_owner_app, db_writer_app;  -- ACL {}
GRANT USAGE ON LANGUAGE plpgsql TO db_owner_app;

-- A large object owned by the owner role, readable by the reader.
DO $lo$
DECLARE lo oid := pg_catalog.lo_create(0);
BEGIN
  EXECUTE pg_catalog.format('ALTER LARGE OBJECT %s OWNER TO db_owner_app', lo);
  EXECUTE pg_catalog.format('GRANT SELECT ON LARGE OBJECT %s TO db_reader_app', lo);
END
$lo$;

-- A foreign-data wrapper without handler (postgres_fdw is not in every build), a server,
-- a foreign table.
CREATE FOREIGN DATA WRAPPER fx_dummy_fdw;
GRANT USAGE ON FOREIGN DATA WRAPPER fx_dummy_fdw TO db_owner_app;
CREATE SERVER fx_server FOREIGN DATA WRAPPER fx_dummy_fdw;
GRANT USAGE ON FOREIGN SERVER fx_server TO PUBLIC;               -- MISTAKE: PUBLIC
CREATE FOREIGN TABLE app_data.remote_things (id int) SERVER fx_server;
ALTER FOREIGN TABLE app_data.remote_things OWNER TO db_owner_app;

-- A second schema: a table with a NULL ACL (built-in defaults), then PUBLIC everywhere.
CREATE SCHEMA fx_misc;
CREATE TABLE fx_misc.plain (i int);                                -- relacl stays NULL
GRANT CREATE, USAGE ON SCHEMA fx_misc TO PUBLIC;                   -- MISTAKE
ALTER DEFAULT PRIVILEGES IN SCHEMA fx_misc GRANT SELECT ON TABLES TO PUBLIC;  -- MISTAKE
CREATE TABLE fx_misc.owned_by_app (i int);
ALTER TABLE fx_misc.owned_by_app OWNER TO app_user;                -- MISTAKE: runtime owner

-- Hostile names: schema, table, column, function.
CREATE SCHEMA U&"fx sch""ema'\000A<script>x</script> \00FC";
GRANT USAGE ON SCHEMA U&"fx sch""ema'\000A<script>x</script> \00FC"
  TO U&"fx ""q'uote <script>alert(1)</script>\000Anaïve \2603";
CREATE TABLE U&"fx sch""ema'\000A<script>x</script> \00FC".U&"tab le""'\000A<img src=x onerror=alert(1)> \2603" (
  U&"col ""umn'\000A \00FC" int, plain_col int);
GRANT SELECT (U&"col ""umn'\000A \00FC")
  ON U&"fx sch""ema'\000A<script>x</script> \00FC".U&"tab le""'\000A<img src=x onerror=alert(1)> \2603"
  TO U&"fx ""q'uote <script>alert(1)</script>\000Anaïve \2603";
GRANT INSERT
  ON U&"fx sch""ema'\000A<script>x</script> \00FC".U&"tab le""'\000A<img src=x onerror=alert(1)> \2603"
  TO U&"fx ""q'uote <script>alert(1)</script>\000Anaïve \2603";
CREATE FUNCTION U&"fx sch""ema'\000A<script>x</script> \00FC".U&"fn""'\000A<b>"(U&"a""rg" int)
  RETURNS int LANGUAGE sql AS 'SELECT 1';

-- @section database pg>=17
GRANT MAINTAIN ON app_data.orders TO db_writer_app;               -- MISTAKE: writer maintains

-- @section database pg>=18
ALTER DEFAULT PRIVILEGES FOR ROLE db_owner_app GRANT SELECT ON LARGE OBJECTS TO db_reader_app;
