"""Make Heat's SQLite database fit for the convergence engine, after db_sync.

SQLite reuses the rowid of a deleted row unless the table says AUTOINCREMENT;
Heat keeps integer ids of rows it deleted (resource properties data, events)
and would then delete or read the wrong row. This rebuilds every table whose
primary key is an integer `id` with AUTOINCREMENT. The tables are empty right
after db_sync. A real PostgreSQL/MariaDB needs none of this.

Usage: heat_db.py PATH/heat.db
"""

import re
import sqlite3
import sys


def main(path: str) -> None:
    db = sqlite3.connect(path)
    db.execute("PRAGMA foreign_keys = OFF")
    tables = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall()
    for name, sql in tables:
        if "AUTOINCREMENT" in sql or not re.search(r"\bid INTEGER NOT NULL", sql):
            continue
        if not re.search(r"PRIMARY KEY \(id\)", sql):
            continue
        indexes = [
            row[0]
            for row in db.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (name,))
            if row[0]
        ]
        rebuilt = re.sub(r"\bid INTEGER NOT NULL", "id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL", sql, count=1)
        rebuilt = re.sub(r",\s*PRIMARY KEY \(id\)", "", rebuilt, count=1)
        if db.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]:
            sys.exit(f"{name} is not empty: run this right after db_sync")
        # Drop and create (not rename): a rename would rewrite other tables' foreign keys.
        db.execute(f'DROP TABLE "{name}"')
        db.execute(rebuilt)
        for index in indexes:
            db.execute(index)
    db.commit()
    db.close()


if __name__ == "__main__":
    main(sys.argv[1])
