"""Build Neutron's SQLite schema from its models, then stamp the migration heads.

`neutron-db-manage upgrade heads` fails on SQLite (ALTER of constraints), so the
test world creates the tables from the models instead.
Usage: python neutron_schema.py DB_FILE NEUTRON_CONF
"""

import os
import subprocess
import sys

import sqlalchemy
from neutron.db.migration.models import head


def main(db_file: str, conf: str) -> None:
    engine = sqlalchemy.create_engine(f"sqlite:///{db_file}")
    head.get_metadata().create_all(engine)
    engine.dispose()
    manage = [
        os.path.join(os.path.dirname(sys.executable), "neutron-db-manage"),
        "--config-file",
        conf,
        "stamp",
        "heads",
    ]
    subprocess.run(manage, check=True, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
