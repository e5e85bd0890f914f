"""SQLite settings for Neutron and Keystone serving several requests at once.

One gunicorn worker with a few threads still runs transactions side by side;
on SQLite two readers that both go on to write fail with "database is locked".
oslo.db already emits its own BEGIN for SQLite; this makes it BEGIN IMMEDIATE
(the write lock is taken up front, so transactions queue instead of failing),
waits up to 30 s for a lock, and uses WAL so readers do not block the writer.
A real MySQL/PostgreSQL needs none of this.
"""

import sqlite3

from sqlalchemy import event
from sqlalchemy.engine import Engine


@event.listens_for(Engine, "connect")
def _on_connect(dbapi_connection, _record):
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()


@event.listens_for(Engine, "before_cursor_execute", retval=True)
def _begin_immediate(connection, _cursor, statement, parameters, _context, _executemany):
    if connection.dialect.name == "sqlite" and statement.strip().upper() == "BEGIN":
        statement = "BEGIN IMMEDIATE"
    return statement, parameters
