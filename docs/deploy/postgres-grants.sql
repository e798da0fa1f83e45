-- Run after every `recvault db upgrade` (job db-grants): the application role may
-- read and write every table, but only append to audit_events. No UPDATE, DELETE
-- or TRUNCATE on the audit log for the role the API and workers use.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO recvault_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO recvault_app;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM recvault_app;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM recvault_app;
-- On PostgreSQL audit_events is partitioned by month (migration 0005): each month is
-- a table of its own, which the first GRANT above covers. Take the same rights
-- from every month, attached or detached, or the audit log could be edited there.
DO $$
DECLARE
  month regclass;
BEGIN
  IF to_regclass('audit_events') IS NULL THEN
    RETURN;
  END IF;
  FOR month IN
    SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'audit_events'::regclass
    UNION
    SELECT to_regclass(partition) FROM audit_detached WHERE to_regclass(partition) IS NOT NULL
  LOOP
    -- regclass as text is the table's name, quoted where it must be
    EXECUTE 'REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ' || month::text || ' FROM recvault_app';
  END LOOP;
END
$$;
