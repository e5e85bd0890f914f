"""Keystone 30 from PyPI under gunicorn, on MariaDB; bootstrapped once into the snapshot
(keys, admin, region, its own endpoint), then seeded at each `up` with the world's project,
users and the other services' catalog entries."""

import json
import os
import secrets
import subprocess
from pathlib import Path

from world.config import (
    HOST,
    LOGS,
    MEMBER,
    PORTS,
    PROJECT,
    REGION,
    STATE,
    TEST_ADMIN,
    WORLD_SRC,
    die,
    render,
    run,
    write_private,
)
from world.supervise import gunicorn, http_ok, spawn, wait_for

PROCESSES = ["keystone"]
HERE = Path(__file__).parent
HOME = STATE / "keystone"


def url() -> str:
    return f"http://{HOST}:{PORTS['keystone']}"


def write_conf(home: Path, database: str, log: str) -> Path:
    conf = home / "keystone.conf"
    write_private(conf, render(HERE / "keystone.conf", log=LOGS / log, database=database, home=home))
    return conf


def bootstrap(venv: Path, home: Path, database: str) -> None:
    """Keystone's tables, keys and admin in an empty database (for the snapshot)."""
    (home / "fernet-keys").mkdir(parents=True)
    (home / "credential-keys").mkdir()
    conf = write_conf(home, database, "keystone-setup.log")
    admin_password = secrets.token_urlsafe(18)
    write_private(home / "admin-password", admin_password)
    manage = [str(venv / "bin" / "keystone-manage"), "--config-file", str(conf)]
    run([*manage, "db_sync"])
    run([*manage, "fernet_setup", "--keystone-user", "root", "--keystone-group", "root"])
    run([*manage, "credential_setup", "--keystone-user", "root", "--keystone-group", "root"])
    bootstrap_args = ["--bootstrap-username", "admin", "--bootstrap-project-name", "admin"]
    bootstrap_args += ["--bootstrap-role-name", "admin", "--bootstrap-service-name", "keystone"]
    bootstrap_args += ["--bootstrap-region-id", REGION]
    for interface in ("admin", "public", "internal"):
        bootstrap_args += [f"--bootstrap-{interface}-url", url()]
    # The password goes through the environment, not the command line.
    run([*manage, "bootstrap", *bootstrap_args], env={**os.environ, "OS_BOOTSTRAP_PASSWORD": admin_password})
    conf.unlink()


def start(world) -> None:
    from world.services import heat, neutron

    write_conf(HOME, world.secret["db"]["keystone"], "keystone.log")
    for keys in ("fernet-keys", "credential-keys"):
        (HOME / keys).chmod(0o700)  # Keystone warns at every token while others may read them
    world.secret["keystone_admin"] = (HOME / "admin-password").read_text()
    spawn(
        "keystone",
        # Processes, not threads: under four threads in one process, a member's token was once
        # read with another user's roles (creating an application credential failed: "Could not
        # find role assignment with role admin" for bde-member).
        gunicorn(
            world.venv, "wsgi_keystone:application", PORTS["keystone"], WORLD_SRC / "openstack", workers=2, threads=1
        ),
        env={"OS_KEYSTONE_CONFIG_DIR": str(HOME), "OS_KEYSTONE_CONFIG_FILES": "keystone.conf"},
    )
    wait_for("Keystone", lambda: http_ok(url() + "/v3"), 120, "keystone")
    seed(world.venv, world.secret, {"network": neutron.url(), "orchestration": heat.url() + "/%(tenant_id)s"})


def seed(venv: Path, secret: dict, catalog: dict) -> None:
    """The world's project, its users (a member, a project admin, the service users) and the catalog."""
    spec = {
        "keystone_url": url(),
        "admin_password": secret["keystone_admin"],
        "region": REGION,
        "project": PROJECT,
        "users": [
            {"name": MEMBER, "password": secret["member"], "role": "member"},
            {"name": TEST_ADMIN, "password": secret["test_admin"], "role": "admin"},
            {"name": "neutron", "password": secret["neutron_service"], "role": "admin", "service": True},
            {"name": "heat", "password": secret["heat_service"], "role": "admin", "service": True},
        ],
        "services": [
            {"name": "neutron", "type": "network", "url": catalog["network"]},
            {"name": "heat", "type": "orchestration", "url": catalog["orchestration"]},
        ],
    }
    with open(LOGS / "setup.log", "a") as log:
        result = subprocess.run(
            [str(venv / "bin" / "python"), str(WORLD_SRC / "openstack" / "seed_keystone.py")],
            input=json.dumps(spec),
            text=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    if result.returncode != 0:
        die(f"seeding Keystone failed; see {LOGS / 'setup.log'}")


def status() -> list:
    return [("keystone", url() + "/v3")]
