"""The OpenStack databases after their migrations, made once and copied at each `up`.

Keystone's bootstrap, Neutron's `upgrade heads` and Heat's `db_sync` take minutes on
MariaDB; they run once into a cached MariaDB data directory (with Keystone's keys and the
databases' passwords beside it). Each `up` copies it into the world's directory, so every
`up` starts from the same fresh databases. The cache key covers what the databases are
made from: the Python set, the keystone endpoint's port and the code that makes them."""

import inspect
import json
import secrets
import shutil
from pathlib import Path

from world.config import CACHE, PORTS, STATE, digest, say, write_private
from world.services import heat, keystone, mariadb, neutron

DATABASES = ("keystone", "neutron", "heat")


def ensure(venv: Path) -> Path:
    makers = (keystone.bootstrap, neutron.migrate, heat.migrate, mariadb.initialize, mariadb.create_database)
    sources = [inspect.getsource(f) for f in makers]
    templates = [(Path(mariadb.__file__).parent / name).read_text() for name in ("mariadb.cnf", "keystone.conf")]
    snap = CACHE / f"openstack-db-{digest(venv.name, PORTS['keystone'], *sources, *templates)}"
    if (snap / ".complete").exists():
        return snap
    say("making the OpenStack databases on MariaDB (Keystone, Neutron, Heat: a few minutes, cached afterwards)")
    shutil.rmtree(snap, ignore_errors=True)
    home = snap / "mariadb"
    mariadb.initialize(home)
    mariadb.serve(home, name="mariadb-setup")
    try:
        passwords = {name: secrets.token_urlsafe(18) for name in DATABASES}
        for name, password in passwords.items():
            mariadb.create_database(home, name, password)
        urls = {name: mariadb.url(name, password) for name, password in passwords.items()}
        keystone.bootstrap(venv, snap / "keystone", urls["keystone"])
        neutron.migrate(venv, snap / "neutron", urls["neutron"])
        heat.migrate(venv, snap / "heat", urls["heat"])
    finally:
        mariadb.shut_down("mariadb-setup")
    write_private(snap / "databases.json", json.dumps(urls))
    for leftover in ("mysqld.sock", "mariadbd.pid", "my.cnf"):
        (home / leftover).unlink(missing_ok=True)
    (snap / ".complete").touch()
    return snap


def restore(snap: Path) -> dict:
    """The snapshot's databases and Keystone's keys in the world's directory; the databases' URLs."""
    for part in ("mariadb", "keystone"):
        shutil.rmtree(STATE / part, ignore_errors=True)
        shutil.copytree(snap / part, STATE / part, symlinks=True)
    return json.loads((snap / "databases.json").read_text())
