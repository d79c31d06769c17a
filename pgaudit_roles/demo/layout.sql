-- pgaudit-roles demo layout: the production role guide's layout for two apps (api, billing)
-- plus the mistakes real teams make. Applied by `pgaudit-roles demo` as the superuser of a
-- throwaway local server; never run this against a server you care about.
--
-- Directives (lines starting with "-- @"), read by pgaudit_roles/demo/__init__.py:
--   -- @connect DB         following statements run in database DB (starts a new step)
--   -- @step               start a new step (one step = one implicit transaction; statements
--                          such as CREATE DATABASE that refuse a transaction get their own)
--   -- @if-version >= N    the following lines only on server_version_num >= N ...
--   -- @else               ... otherwise these ...
--   -- @end                ... end of the branch
--   -- @password ROLE      give ROLE a random password generated at run time; only the
--                          SCRAM verifier is sent to the server, and it is never printed
-- Lines marked "MISTAKE" are deliberate: each is something a rule should report.

-- @connect postgres
-- ===== cluster-wide roles ==============================================================
-- Group roles of the guide: NOLOGIN containers of privileges.
CREATE ROLE db_owner_api NOLOGIN;
CREATE ROLE db_writer_api NOLOGIN;
CREATE ROLE db_reader_api NOLOGIN;
CREATE ROLE db_owner_billing NOLOGIN;
CREATE ROLE db_writer_billing LOGIN;                        -- MISTAKE: group role with LOGIN
CREATE ROLE db_reader_billing NOLOGIN;

-- Login roles: deploy (CI/CD, DDL through the owner role) and app (runtime, DML).
CREATE ROLE deploy_api LOGIN CONNECTION LIMIT 5;
CREATE ROLE deploy_billing LOGIN CONNECTION LIMIT 5;
ALTER ROLE deploy_billing SET log_statement = 'none';        -- MISTAKE: switches off DDL logging for migrations
CREATE ROLE app_api LOGIN CREATEROLE;                        -- MISTAKE: app role with CREATEROLE ("tenant signup creates roles")
                                                             -- MISTAKE: app role without a connection limit
CREATE ROLE app_billing LOGIN SUPERUSER CONNECTION LIMIT 20; -- MISTAKE: the billing app logs in as a superuser

-- People and tools.
CREATE ROLE analyst_jane LOGIN;                              -- password, no VALID UNTIL (set below): MISTAKE
CREATE ROLE monitoring_agent LOGIN CONNECTION LIMIT 3;
GRANT pg_monitor TO monitoring_agent;
CREATE ROLE "o'brien ""ops""" LOGIN CONNECTION LIMIT 2;      -- a legal but hostile name: every report must escape it
CREATE ROLE breakglass_admin SUPERUSER NOLOGIN;              -- the guide's break-glass superuser, locked (allowlisted in the demo config)
CREATE ROLE reporting_legacy NOLOGIN;                        -- MISTAKE: unused role (no login, no members, no privileges, owns nothing)
CREATE ROLE oncall_api NOLOGIN;                              -- the on-call rota's group role (Jane is on call this week)

-- Memberships, as the guide says ...
-- @if-version >= 160000
-- 16+: deploy roles must SET ROLE to the owner role to run DDL (grant-level INHERIT FALSE).
GRANT db_owner_api TO deploy_api WITH INHERIT FALSE;
GRANT db_owner_billing TO deploy_billing WITH INHERIT FALSE;
-- @else
-- 13-15: the same intent through the role attribute (NOINHERIT).
ALTER ROLE deploy_api NOINHERIT;
ALTER ROLE deploy_billing NOINHERIT;
GRANT db_owner_api TO deploy_api;
GRANT db_owner_billing TO deploy_billing;
-- @end
GRANT db_writer_api TO app_api;
GRANT db_writer_billing TO app_billing;
GRANT db_reader_api TO analyst_jane;
GRANT db_reader_billing TO analyst_jane;
GRANT db_reader_billing TO "o'brien ""ops""";
GRANT oncall_api TO analyst_jane;

-- Passwords: random, generated when the demo runs, never printed.
-- @password deploy_api
-- @password deploy_billing
-- @password app_api
-- @password app_billing
-- @password analyst_jane
-- @password monitoring_agent
-- @password db_writer_billing
-- @password o'brien "ops"

-- Machine credentials are rotated by the secrets manager: they expire in 90 days.
-- (analyst_jane, db_writer_billing and o'brien "ops" were forgotten: MISTAKE, no VALID UNTIL.)
DO $$
DECLARE r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['deploy_api', 'deploy_billing', 'app_api', 'app_billing', 'monitoring_agent'] LOOP
    EXECUTE format('ALTER ROLE %I VALID UNTIL %L', r, now() + interval '90 days');
  END LOOP;
END
$$;

-- @step
CREATE DATABASE api_prod OWNER db_owner_api TEMPLATE template0;
-- @step
CREATE DATABASE billing_prod TEMPLATE template0;             -- owned by postgres; PUBLIC keeps CONNECT and TEMP: MISTAKE

-- @connect api_prod
-- ===== api: the guide followed, mostly =================================================
REVOKE ALL ON DATABASE api_prod FROM PUBLIC;
GRANT CONNECT ON DATABASE api_prod TO db_writer_api, db_reader_api, deploy_api, monitoring_agent;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
CREATE SCHEMA api AUTHORIZATION db_owner_api;
GRANT USAGE ON SCHEMA api TO db_writer_api, db_reader_api;
ALTER DEFAULT PRIVILEGES FOR ROLE db_owner_api IN SCHEMA api
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO db_writer_api;
ALTER DEFAULT PRIVILEGES FOR ROLE db_owner_api IN SCHEMA api
  GRANT USAGE, SELECT ON SEQUENCES TO db_writer_api;

-- The first migration, run by the deploy account through the owner role.
SET ROLE db_owner_api;
CREATE TABLE api.accounts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email text NOT NULL UNIQUE,
  display_name text,
  plan text NOT NULL DEFAULT 'free',
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE api.api_keys (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_id bigint NOT NULL REFERENCES api.accounts (id),
  key_hash bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);
CREATE TABLE api.heartbeats (
  agent text PRIMARY KEY,
  seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE VIEW api.active_accounts AS
  SELECT id, email, plan FROM api.accounts WHERE plan <> 'closed';
-- A SECURITY DEFINER function done right: fixed search_path, no PUBLIC EXECUTE.
CREATE FUNCTION api.revoke_api_key(p_key_id bigint) RETURNS void
  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $fn$ UPDATE api.api_keys SET revoked_at = now() WHERE id = p_key_id $fn$;
REVOKE EXECUTE ON FUNCTION api.revoke_api_key(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.revoke_api_key(bigint) TO db_writer_api;
RESET ROLE;

-- Readers for what already exists ...
GRANT SELECT ON ALL TABLES IN SCHEMA api TO db_reader_api;
-- ... and for the future, run as postgres without FOR ROLE: MISTAKE. The entry is keyed to
-- postgres, so tables that db_owner_api creates later never get SELECT for the readers.
ALTER DEFAULT PRIVILEGES IN SCHEMA api GRANT SELECT ON TABLES TO db_reader_api;

-- Second migration, through the owner role: api.webhooks gets the writer's DML from the
-- owner's defaults but not the readers' SELECT (drift caused by the mistake above).
SET ROLE db_owner_api;
CREATE TABLE api.webhooks (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_id bigint NOT NULL REFERENCES api.accounts (id),
  url text NOT NULL,
  secret_ref text NOT NULL
);
RESET ROLE;

-- A hotfix run by hand as postgres: MISTAKE, a table in the app schema owned by postgres.
CREATE TABLE api.feature_flags (
  name text PRIMARY KEY,
  enabled boolean NOT NULL DEFAULT false
);
GRANT SELECT ON api.feature_flags TO db_writer_api;

-- "On-call can end a runaway app's sessions": MISTAKE, a runbook helper created by hand as
-- postgres, SECURITY DEFINER without a fixed search_path, callable by the on-call group,
-- which also got a scratch schema for its exports. A lower(text) planted in ops_scratch
-- runs as postgres: the multi-hop route analyst_jane -> oncall_api -> postgres -> superuser
-- (pgaudit-roles paths, and the report's "Who can become superuser").
CREATE SCHEMA ops;
GRANT USAGE ON SCHEMA ops TO oncall_api;
CREATE SCHEMA ops_scratch;
GRANT USAGE, CREATE ON SCHEMA ops_scratch TO oncall_api;
CREATE FUNCTION ops.end_sessions_of(p_app text) RETURNS integer
  LANGUAGE sql SECURITY DEFINER
  AS $fn$ SELECT count(pg_terminate_backend(pid))::integer FROM pg_stat_activity
          WHERE lower(application_name) = lower(p_app) $fn$;
REVOKE EXECUTE ON FUNCTION ops.end_sessions_of(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ops.end_sessions_of(text) TO oncall_api;

-- "The app creates its own session table at startup": MISTAKE, CREATE on the app schema
-- granted to the runtime login role, which then owns api.sessions.
GRANT CREATE ON SCHEMA api TO app_api;
SET ROLE app_api;
CREATE TABLE api.sessions (
  token_hash bytea PRIMARY KEY,
  account_id bigint NOT NULL,
  expires_at timestamptz NOT NULL
);
RESET ROLE;

-- "The monitoring agent writes its heartbeat": MISTAKE, a pg_monitor member with write privileges.
GRANT USAGE ON SCHEMA api TO monitoring_agent;
GRANT INSERT, UPDATE, DELETE ON api.heartbeats TO monitoring_agent;

-- "Jane shares the accounts table with her team": MISTAKE, a direct grant to a login role,
-- WITH GRANT OPTION held by a role that does not own the table.
GRANT SELECT ON api.accounts TO analyst_jane WITH GRANT OPTION;

-- @connect billing_prod
-- ===== billing: set up in a hurry ======================================================
-- The pre-15 behaviour restored explicitly "because the ORM needs it": MISTAKE, PUBLIC CREATE on public.
GRANT CREATE ON SCHEMA public TO PUBLIC;
CREATE SCHEMA billing AUTHORIZATION db_owner_billing;
GRANT USAGE ON SCHEMA billing TO db_writer_billing, db_reader_billing;
ALTER DEFAULT PRIVILEGES FOR ROLE db_owner_billing IN SCHEMA billing
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO db_writer_billing;
ALTER DEFAULT PRIVILEGES FOR ROLE db_owner_billing IN SCHEMA billing
  GRANT SELECT ON TABLES TO db_reader_billing;
ALTER DEFAULT PRIVILEGES FOR ROLE db_owner_billing IN SCHEMA billing
  GRANT USAGE, SELECT ON SEQUENCES TO db_writer_billing;

SET ROLE db_owner_billing;
CREATE TYPE billing.invoice_status AS ENUM ('draft', 'open', 'paid', 'void', 'refunded');
CREATE SEQUENCE billing.invoice_number_seq START 1000;
CREATE TABLE billing.customers (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  api_account_id bigint NOT NULL,
  legal_name text NOT NULL,
  vat_id text
);
CREATE TABLE billing.invoices (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  number bigint NOT NULL DEFAULT nextval('billing.invoice_number_seq') UNIQUE,
  customer_id bigint NOT NULL REFERENCES billing.customers (id),
  status billing.invoice_status NOT NULL DEFAULT 'draft',
  amount_cents bigint NOT NULL,
  currency char(3) NOT NULL DEFAULT 'EUR',
  issued_at timestamptz
);
CREATE TABLE billing.payments (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  invoice_id bigint NOT NULL REFERENCES billing.invoices (id),
  amount_cents bigint NOT NULL,
  paid_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE billing.refunds (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  invoice_id bigint NOT NULL REFERENCES billing.invoices (id),
  amount_cents bigint NOT NULL,
  reason text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE VIEW billing.monthly_revenue AS
  SELECT date_trunc('month', paid_at) AS month, sum(amount_cents) AS cents
  FROM billing.payments GROUP BY 1;
CREATE FUNCTION billing.invoice_total(p_customer_id bigint) RETURNS bigint
  LANGUAGE sql STABLE
  AS $fn$ SELECT coalesce(sum(amount_cents), 0)::bigint FROM billing.invoices WHERE customer_id = p_customer_id $fn$;
-- MISTAKE: SECURITY DEFINER without a fixed search_path, and EXECUTE left to PUBLIC (the default).
CREATE FUNCTION billing.refund(p_invoice_id bigint, p_amount_cents bigint, p_reason text)
  RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER
  AS $fn$
DECLARE v_id bigint;
BEGIN
  INSERT INTO billing.refunds (invoice_id, amount_cents, reason)
    VALUES (p_invoice_id, p_amount_cents, p_reason) RETURNING id INTO v_id;
  UPDATE billing.invoices SET status = 'refunded' WHERE id = p_invoice_id;
  RETURN v_id;
END
$fn$;
RESET ROLE;

-- "Give the writer everything on the existing tables": MISTAKE, ALL includes TRUNCATE,
-- REFERENCES, TRIGGER (and MAINTAIN on 17+).
GRANT ALL ON ALL TABLES IN SCHEMA billing TO db_writer_billing;
-- "The finance export needs to insert corrections": MISTAKE, a reader role with INSERT.
GRANT INSERT ON billing.invoices TO db_reader_billing;

-- The ops engineer's scratch export in public (possible only because of PUBLIC CREATE):
-- a hostile-but-legal table name, owned by a login role.
SET ROLE "o'brien ""ops""";
CREATE TABLE public."tmp export ""Q3"" <script>alert(1)</script>" (
  invoice_number bigint,
  amount_cents bigint
);
RESET ROLE;
