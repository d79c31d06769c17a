-- audit schema loader (_views): see audit_schema._Loader
CREATE OR REPLACE VIEW column_privileges AS
            SELECT database, database_oid, object_oid AS table_oid, subid AS attnum, schema,
                   object_name AS table_name, identity, column_name, kind, owner, grantee,
                   grantee_oid, grantor, privilege, grantable
            FROM privileges WHERE object_class = 'column'
