-- audit schema loader (_roles): see audit_schema._Loader; $managed: the managed-service
-- administrator role names (acl_defaults.MANAGED_SUPERUSER_ROLES). member_of/members are
-- list_sort(list_distinct(list(x))), the same list as list(DISTINCT x ORDER BY x) (NULLs are
-- filtered first): the ordered DISTINCT aggregates cost ~1.7 ms more to plan.
INSERT INTO roles BY NAME
            SELECT r.oid, r.name, r.superuser, r.inherit, r.createrole, r.createdb, r.login,
                   r.replication, r.bypassrls, r.connection_limit,
                   TRY_CAST(r.valid_until AS TIMESTAMPTZ) AS valid_until, r.password_type,
                   r.config, r.predefined, r.comment, k.kind, k.app, k.environment,
                   r.oid = 10 AS is_bootstrap_superuser, k.is_breakglass, k.is_auditor,
                   r.superuser OR su.managed IS NOT NULL AS superuser_equivalent,
                   CASE WHEN r.superuser THEN 'SUPERUSER' ELSE su.managed END AS superuser_via,
                   coalesce(mo.member_of, []) AS member_of, coalesce(ms.members, []) AS members
            FROM internal.roles_raw r
            LEFT JOIN internal.role_kinds k ON k.oid = r.oid
            LEFT JOIN (SELECT c.member_oid, min(c.role) AS managed FROM role_closure c
                       WHERE c.database IS NULL AND c.can_set AND c.depth > 0
                         AND list_contains($managed, c.role)
                       GROUP BY c.member_oid) su ON su.member_oid = r.oid
            LEFT JOIN (SELECT member_oid, list_sort(list_distinct(list(role))) AS member_of
                       FROM memberships WHERE role IS NOT NULL GROUP BY member_oid) mo
                   ON mo.member_oid = r.oid
            LEFT JOIN (SELECT role_oid, list_sort(list_distinct(list(member))) AS members
                       FROM memberships WHERE member IS NOT NULL GROUP BY role_oid) ms
                   ON ms.role_oid = r.oid
