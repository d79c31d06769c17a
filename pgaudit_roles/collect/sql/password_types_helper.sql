SELECT p.role_oid AS role_oid, p.password_type AS password_type
FROM pgaudit_roles.password_types() AS p
