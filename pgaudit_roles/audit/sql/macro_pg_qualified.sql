-- audit schema loader (_macros): see audit_schema._Loader
CREATE OR REPLACE TEMP MACRO pg_qualified(sch, n) AS
            CASE WHEN sch IS NULL THEN pg_quote_ident(n)
                 ELSE pg_quote_ident(sch) || '.' || pg_quote_ident(n) END
