"""The metadata DB: SQLModel tables, engine and sessions, and Alembic migrations.

Owns the schema (DESIGN section 6; ``tables``), how engines and sessions are
made (``sessions``) and ``recvault db upgrade`` (``migrate``, over the
``migrations/`` scripts shipped inside the wheel as ``vault/migrations``).
Imports only ``vault.errors``.
"""
