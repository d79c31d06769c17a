-- Login roles get no password here: it is set from the secrets manager (psql \password).
CREATE ROLE deploy_shop LOGIN CONNECTION LIMIT 5 VALID UNTIL '2030-01-01';
GRANT db_owner_shop TO deploy_shop;
CREATE ROLE app_shop LOGIN NOCREATEROLE NOCREATEDB CONNECTION LIMIT 20 VALID UNTIL '2030-01-01';
GRANT db_writer_shop TO app_shop;
