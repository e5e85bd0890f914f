"""Heat 27 from PyPI as clouds run it: `heat-api` (Heat's WSGI app under gunicorn, behind
keystonemiddleware) and HEAT_ENGINES `heat-engine` processes (convergence), talking over
the world's RabbitMQ, every one on MariaDB, the plugin loaded through `plugin_dirs` from
the installed wheel. Each process has its own pid, host name and log."""

import json
import subprocess
from pathlib import Path

from world.config import (
    BDE_USER,
    HEAT_ENGINES,
    HOST,
    LOGS,
    PORTS,
    REGION,
    STATE,
    VCENTER_USER,
    WORLD_SRC,
    render,
    run,
    write_private,
)
from world.supervise import gunicorn, http_ok, spawn, wait_for

ENGINES = [f"heat-engine-{n}" for n in range(1, HEAT_ENGINES + 1)]
PROCESSES = ["heat-api", *ENGINES]
HERE = Path(__file__).parent
HOME = STATE / "heat"


def url() -> str:
    return f"http://{HOST}:{PORTS['heat']}/v1"


def write_conf(venv: Path, home: Path, database: str, secret: dict) -> Path:
    from world.services import keystone, rabbitmq

    text = render(
        HERE / "heat.conf",
        transport=rabbitmq.transport_url(secret.get("rabbitmq", "unused")),
        home=home,
        venv=venv,
        region=REGION,
        database=database,
        keystone=keystone.url(),
        service_password=secret.get("heat_service", "unused"),
    )
    write_private(home / "heat.conf", text)
    return home / "heat.conf"


def migrate(venv: Path, home: Path, database: str) -> None:
    """Heat's schema in an empty database (for the snapshot)."""
    home.mkdir(parents=True, exist_ok=True)
    conf = write_conf(venv, home, database, {})
    run([str(venv / "bin" / "heat-manage"), "--config-file", str(conf), "db_sync"])
    conf.unlink()


def process_conf(name: str) -> Path:
    """The one process's own settings: its host name (engines are told apart by it) and log."""
    path = HOME / f"{name}.conf"
    path.write_text(f"[DEFAULT]\nhost = world-{name}\nlog_file = {LOGS / (name + '.log')}\n")
    return path


def start(world) -> None:
    from world.services import bde, vcsim

    HOME.mkdir(parents=True, exist_ok=True)
    plugin_dir = subprocess.run(
        [str(world.venv / "bin" / "python"), "-m", "bde_heat", "plugin-dir"], capture_output=True, text=True, check=True
    ).stdout.strip()
    (HOME / "plugins").unlink(missing_ok=True)
    (HOME / "plugins").symlink_to(plugin_dir)
    credentials = {
        "bde": [
            {
                "endpoint": bde.url(),
                "username": BDE_USER,
                "password": world.secret["bde"],
                "ca_file": str(bde.HOME / "ca.pem"),
            }
        ],
        "vcenter": [
            {
                "endpoint": vcsim.url(),
                "username": VCENTER_USER,
                "password": world.secret["vcenter"],
                "ca_file": str(world.tls / "ca.pem"),
            }
        ],
    }
    # JSON is YAML: the credentials file needs no YAML writer here.
    write_private(HOME / "bde-credentials.yaml", json.dumps(credentials, indent=1))
    write_conf(world.venv, HOME, world.secret["db"]["heat"], world.secret)
    for engine in ENGINES:
        start_engine(world.venv, engine)
    spawn(
        "heat-api",
        gunicorn(world.venv, "wsgi_heat:application", PORTS["heat"], WORLD_SRC / "openstack"),
        env={"HEAT_CONFIG_FILES": f"{HOME / 'heat.conf'};{process_conf('heat-api')}"},
    )
    wait_for("heat-api", lambda: http_ok(f"http://{HOST}:{PORTS['heat']}/"), 120, "heat-api")
    for engine in ENGINES:
        wait_until_serving(engine)


def start_engine(venv: Path, engine: str) -> None:
    """Starts one engine on the world's configuration (again after a kill: same database)."""
    from world.services import mariadb

    HOME.joinpath(f"{engine}.started").write_text(mariadb.now())
    command = [str(venv / "bin" / "heat-engine"), "--config-file", str(HOME / "heat.conf")]
    spawn(engine, [*command, "--config-file", str(process_conf(engine))])


def wait_until_serving(engine: str) -> None:
    """An engine serves once it has registered in Heat's `service` table (after its RPC servers start)."""
    from world.services import mariadb

    since = HOME.joinpath(f"{engine}.started").read_text()
    query = (
        f"SELECT COUNT(*) FROM heat.service WHERE host = 'world-{engine}' AND deleted_at IS NULL "
        f"AND created_at >= '{since}'"
    )
    wait_for(engine, lambda: mariadb.query(query).strip() not in ("", "0"), 120, engine)


def status() -> list:
    rows = [("heat-api", url())]
    rows += [(engine, f"world-{engine} (RPC over RabbitMQ, log {LOGS / (engine + '.log')})") for engine in ENGINES]
    return rows
