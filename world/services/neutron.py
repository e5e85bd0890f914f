"""Neutron 29 from PyPI under gunicorn (it ships no neutron-server), ML2 with no mechanism
driver and no agents (NSX-v's part is the world's watcher), on MariaDB, its schema made by
`neutron-db-manage upgrade heads` once into the snapshot."""

import shutil
from pathlib import Path

from world.config import HOST, LOGS, PORTS, REGION, STATE, WORLD_SRC, render, run, write_private
from world.supervise import gunicorn, http_ok, spawn, stop, wait_for

PROCESSES = ["neutron"]
HERE = Path(__file__).parent
HOME = STATE / "neutron"


def url() -> str:
    return f"http://{HOST}:{PORTS['neutron']}"


def write_conf(venv: Path, home: Path, database: str, secret: dict, log: str) -> Path:
    from world.services import keystone

    (home / "lock").mkdir(parents=True, exist_ok=True)
    text = render(
        HERE / "neutron.conf",
        venv=venv,
        log=LOGS / log,
        database=database,
        home=home,
        keystone=keystone.url(),
        service_password=secret.get("neutron_service", "unused"),
        region=REGION,
    )
    write_private(home / "neutron.conf", text)
    shutil.copy(HERE / "ml2_conf.ini", home / "ml2_conf.ini")
    return home / "neutron.conf"


def migrate(venv: Path, home: Path, database: str) -> None:
    """Neutron's schema in an empty database, as an operator makes it (for the snapshot)."""
    conf = write_conf(venv, home, database, {}, "neutron-setup.log")
    run([str(venv / "bin" / "neutron-db-manage"), "--config-file", str(conf), "upgrade", "heads"])
    shutil.rmtree(home)


def start(world) -> None:
    write_conf(world.venv, HOME, world.secret["db"]["neutron"], world.secret, "neutron.log")
    serve(world.venv)


def serve(venv: Path) -> None:
    """Starts Neutron on the configuration `start` wrote (again after an outage, same database)."""
    spawn(
        "neutron",
        gunicorn(venv, "wsgi_neutron:application", PORTS["neutron"], WORLD_SRC / "openstack", workers=2),
        env={"OS_NEUTRON_CONFIG_DIR": str(HOME), "OS_NEUTRON_CONFIG_FILES": "neutron.conf;ml2_conf.ini"},
    )
    wait_for("Neutron", lambda: http_ok(url() + "/"), 180, "neutron")


def shut_down() -> None:
    stop("neutron")


def status() -> list:
    return [("neutron", url())]
