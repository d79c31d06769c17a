-- DuckDB, over the audit schema: the roles the escalation build reads in Python (the
-- small path's core edges, see escalation_rows.py, and the route search's Graph).
SELECT oid, name, kind, app, login, superuser_equivalent, superuser, createrole, predefined
FROM roles
