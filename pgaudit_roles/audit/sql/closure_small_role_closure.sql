-- DuckDB: role_closure's rows from the text closure_small.encode makes of the closure
-- computed in Python (effective._small_closure): $1 the rows, $2, $3 and $4 the
-- separators of rows, of fields and of a path's names; an empty field is NULL. member and
-- role are the path's ends.
INSERT INTO role_closure BY NAME
SELECT nullif(f[1], '') AS database, nullif(f[2], '')::BIGINT AS database_oid,
       p[1] AS member, p[-1] AS role, f[3]::BIGINT AS member_oid, f[4]::BIGINT AS role_oid,
       f[5]::INTEGER AS depth, p AS path,
       f[7] <> '' AS inherits, nullif(f[7], '')::INTEGER AS inherit_depth,
       CASE WHEN f[8] <> '' THEN string_split(f[8], $4) END AS inherit_path,
       f[9] <> '' AS can_set,
       CASE WHEN f[9] <> '' THEN string_split(f[9], $4) END AS set_path
FROM (SELECT f, string_split(f[6], $4) AS p
      FROM (SELECT string_split(unnest(string_split($1, $2)), $3) AS f WHERE $1 <> ''))
