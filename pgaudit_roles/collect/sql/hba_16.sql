SELECT h.rule_number AS rule_number, h.file_name AS file_name, h.line_number AS line_number,
       h.type AS type, h.database AS databases, h.user_name AS users, h.address AS address,
       h.netmask AS netmask, h.auth_method AS auth_method, h.options AS options,
       h.error AS error
FROM pg_catalog.pg_hba_file_rules AS h
ORDER BY h.rule_number NULLS LAST, h.file_name, h.line_number
