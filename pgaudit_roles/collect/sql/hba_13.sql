-- 13-15: no rule_number/file_name. The rule number is derived (order of the lines without
-- errors, which is the order of evaluation); the file is the hba_file setting.
SELECT CASE WHEN h.error IS NULL
            THEN (pg_catalog.row_number() OVER (PARTITION BY h.error IS NULL ORDER BY h.line_number))::int
       END AS rule_number,
       pg_catalog.current_setting('hba_file', true) AS file_name,
       h.line_number AS line_number, h.type AS type, h.database AS databases,
       h.user_name AS users, h.address AS address, h.netmask AS netmask,
       h.auth_method AS auth_method, h.options AS options, h.error AS error
FROM pg_catalog.pg_hba_file_rules AS h
ORDER BY h.line_number
