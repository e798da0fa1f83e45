#!/bin/sh
# Runs once when the PostgreSQL volume is created: the owner role (migrations)
# and the application role (the API and workers) of recvault, in one transaction.
# Env: POSTGRES_USER, POSTGRES_DB (the database recvault uses; the compose file's
# postgres image sets both), RECVAULT_OWNER_DB_PASSWORD, RECVAULT_APP_DB_PASSWORD;
# outside the image also PGHOST/PGPORT as psql reads them.
set -eu
psql -v ON_ERROR_STOP=1 --single-transaction --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v db="$POSTGRES_DB" -v owner_pw="$RECVAULT_OWNER_DB_PASSWORD" -v app_pw="$RECVAULT_APP_DB_PASSWORD" <<'SQL'
CREATE ROLE recvault_owner LOGIN PASSWORD :'owner_pw';
CREATE ROLE recvault_app LOGIN PASSWORD :'app_pw';
GRANT CONNECT ON DATABASE :"db" TO recvault_owner, recvault_app;
GRANT USAGE, CREATE ON SCHEMA public TO recvault_owner;
GRANT USAGE ON SCHEMA public TO recvault_app;
SQL
