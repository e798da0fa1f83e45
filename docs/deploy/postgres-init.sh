#!/bin/sh
# Runs once when the PostgreSQL volume is created: the owner role (migrations)
# and the application role (the API and workers) of recvault.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v owner_pw="$RECVAULT_OWNER_DB_PASSWORD" -v app_pw="$RECVAULT_APP_DB_PASSWORD" <<'SQL'
CREATE ROLE recvault_owner LOGIN PASSWORD :'owner_pw';
CREATE ROLE recvault_app LOGIN PASSWORD :'app_pw';
GRANT CONNECT ON DATABASE recvault TO recvault_owner, recvault_app;
GRANT USAGE, CREATE ON SCHEMA public TO recvault_owner;
GRANT USAGE ON SCHEMA public TO recvault_app;
SQL
