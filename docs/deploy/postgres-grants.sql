-- Run after every `recvault db upgrade` (job db-grants): the application role may
-- read and write every table, but only append to audit_events. No UPDATE, DELETE
-- or TRUNCATE on the audit log for the role the API and workers use.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO recvault_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO recvault_app;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM recvault_app;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM recvault_app;
