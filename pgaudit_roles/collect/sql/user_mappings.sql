-- User mappings (pg_user_mappings is readable by everyone). Only the option NAMES are
-- kept, never their values (a mapping's options hold remote passwords). option_names is
-- NULL when this role may not see the options (umoptions is hidden from it).
SELECT u.umid AS oid, u.srvid AS server_oid, u.srvname::text AS server_name,
       u.umuser AS user_oid,
       CASE WHEN u.umoptions IS NOT NULL
            THEN ARRAY(SELECT pg_catalog.split_part(o.opt, '=', 1)
                       FROM pg_catalog.unnest(u.umoptions) AS o(opt) ORDER BY 1) END
            AS option_names
FROM pg_catalog.pg_user_mappings AS u
