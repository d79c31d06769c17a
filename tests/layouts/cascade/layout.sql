-- The cascade layout: mistakes whose fixes create findings of their own, for the
-- remediation verified on a twin (tests/test_verify_remediation.py). Same directives as
-- pgaudit_roles/demo/layout.sql (@connect, @step, @password, @if-version).
--
-- Cascades it is built for:
-- * the schema shop is owned by the runtime role; moving it to db_owner_shop leaves the
--   schema without the owner role's default privileges (PGR-DEFP-001 follow-up);
-- * app_shop is a superuser; once it is not, its own grants and ownership rules apply;
-- * db_reader_crm's only privilege is a grant into another application's schema; revoking
--   it leaves the role unused (PGR-ROLE-015 follow-up, DROP ROLE: destructive, so at level
--   safe the revoke is withheld instead).

-- @connect postgres
CREATE ROLE db_owner_shop NOLOGIN;
CREATE ROLE db_writer_shop NOLOGIN;
CREATE ROLE db_reader_shop NOLOGIN;
CREATE ROLE deploy_shop LOGIN CONNECTION LIMIT 5 VALID UNTIL '2031-01-01';
GRANT db_owner_shop TO deploy_shop;
CREATE ROLE app_shop LOGIN SUPERUSER CONNECTION LIMIT 20 VALID UNTIL '2031-01-01';  -- MISTAKE
GRANT db_writer_shop TO app_shop;
CREATE ROLE report_shop NOLOGIN;                                 -- only direct grants below
CREATE ROLE db_reader_crm NOLOGIN;                               -- another app's reader: only the grant below
CREATE ROLE shop_batch LOGIN CONNECTION LIMIT 2 VALID UNTIL '2031-01-01';  -- MISTAKE: name outside the policy
GRANT db_reader_shop TO shop_batch;
-- @step
CREATE DATABASE shop_prod OWNER db_owner_shop TEMPLATE template0;
-- @step
REVOKE ALL ON DATABASE shop_prod FROM PUBLIC;
GRANT CONNECT ON DATABASE shop_prod TO db_owner_shop, db_writer_shop, db_reader_shop, pg_monitor;

-- @connect shop_prod
REVOKE ALL ON SCHEMA public FROM PUBLIC;
CREATE SCHEMA shop AUTHORIZATION app_shop;                       -- MISTAKE: the runtime role owns the schema
GRANT USAGE ON SCHEMA shop TO db_writer_shop, db_reader_shop;
CREATE TABLE shop.orders (id bigint, total numeric);
ALTER TABLE shop.orders OWNER TO db_owner_shop;
CREATE TABLE shop.customers (id bigint, name text);
ALTER TABLE shop.customers OWNER TO app_shop;                    -- MISTAKE: runtime owner
GRANT SELECT, INSERT, UPDATE, DELETE ON shop.orders TO db_writer_shop;
GRANT SELECT ON shop.orders TO db_reader_shop;
GRANT SELECT ON shop.orders TO report_shop;                      -- MISTAKE: direct grant outside the groups
GRANT SELECT ON shop.customers TO PUBLIC;                        -- MISTAKE: PUBLIC
GRANT SELECT ON shop.orders TO db_reader_crm;                    -- MISTAKE: another app reads shop's data
ALTER DEFAULT PRIVILEGES FOR ROLE app_shop IN SCHEMA shop
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO db_writer_shop;
