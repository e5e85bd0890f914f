"""bde-heat's test world on loopback: MariaDB, RabbitMQ, Keystone, Neutron, vcsim (vCenter),
NSX-v's portgroups, the BDE simulator, and Heat (heat-api and two heat-engines, with the
plugin's wheel).

  scripts/world up        start everything (idempotent; quick when already up)
  scripts/world down      stop exactly what `up` started (pid files)
  scripts/world status    each process, its pid and where it answers
  scripts/world env       shell export lines: eval "$(scripts/world env)"
  scripts/world net NAME CIDR [POOL_FIRST-POOL_LAST]
                          a Neutron network + DHCP subnet as the member user
                          (its allocation pool, if given),
                          waits for its NSX-v portgroup, prints NETWORK_ID=,
                          SUBNET_ID=, PORTGROUP=
  scripts/world net-delete NETWORK_ID
                          deletes it (as the member user) and waits for its
                          portgroup to go
  scripts/world kill-engine N [--restart]
                          SIGKILLs heat-engine N (1 or 2), as its host dying;
                          with --restart, starts it again on the same database
  scripts/world outage neutron|bde SECONDS
                          stops Neutron (then starts it on the same database),
                          or takes the BDE simulator's API down (its jobs go
                          on, its sessions are lost), for SECONDS; returns
                          once it answers again

State lives in $BDE_WORLD_DIR (default: .world/ in the checkout), logs in its
logs/ folder. What is slow to rebuild (the Python venv, the Go binaries, the
migrated OpenStack databases) is cached in $BDE_HEAT_CACHE (default
~/.cache/bde-heat) and rebuilt when missing.

Knobs (environment): BDE_WORLD_PORT_BASE (18400: nine ports from it),
BDE_WORLD_EXTRA_VMS (0), BDE_WORLD_VCSIM_DELAY_MS (0), BDE_WORLD_NSX_DELAY (3 seconds).
Only the standard library is used here: this package installs everything else.
"""

import shutil
import sys
import time

from world import install, ops, passwords, snapshot, tls
from world.config import (
    BDE_USER,
    LOGS,
    MEMBER,
    PORTS,
    PROJECT,
    REGION,
    STATE,
    TEST_ADMIN,
    VCENTER_USER,
    die,
    say,
    write_private,
)
from world.services import ORDER, World, bde, heat, keystone, neutron, processes, vcsim
from world.supervise import port_free, running_pid, stop


def up() -> None:
    if all(running_pid(name) for name in processes()):
        say("already up")
        return
    began = time.monotonic()
    down(quiet=True)
    install.ensure_apt_packages()
    venv = install.ensure_venv()
    bins = install.ensure_go_binaries()
    sim = install.build_bde_sim()
    for name, port in PORTS.items():
        if not port_free(port):
            die(f"port {port} ({name}) is taken by another program; set BDE_WORLD_PORT_BASE")
    shutil.rmtree(LOGS, ignore_errors=True)
    world = World(venv=venv, bins=bins, sim=sim, tls=tls.ensure_tls(), secret=passwords.load())
    world.secret["db"] = snapshot.restore(snapshot.ensure(venv))
    install.install_plugin(venv)
    for service in ORDER:
        service.start(world)
    write_clouds_yaml(world.secret)
    write_private(STATE / "env.sh", "\n".join(env_lines(world.secret)) + "\n")
    say(f"up in {time.monotonic() - began:.1f} s; logs in {LOGS}")
    status()


def down(quiet: bool = False) -> None:
    stopped = [name for name in reversed(processes()) if stop(name)]
    if not quiet:
        say(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")


def status() -> None:
    missing = 0
    for service in ORDER:
        for name, where in service.status():
            pid = running_pid(name)
            missing += pid is None
            print(f"{name:14} {'up pid ' + str(pid) if pid else 'DOWN':12} {where}")
    print(f"state: {STATE}\nlogs:  {LOGS}")
    if missing:
        sys.exit(3)


def env() -> None:
    if not (STATE / "env.sh").exists() or running_pid("keystone") is None:
        die("the world is not up: run scripts/world up")
    print((STATE / "env.sh").read_text(), end="")


def write_clouds_yaml(secret: dict) -> None:
    def cloud(name: str, user: str, password: str, project: str) -> str:
        return (
            f"  {name}:\n    region_name: {REGION}\n    identity_api_version: 3\n    auth:\n"
            f"      auth_url: {keystone.url()}/v3\n      username: {user}\n      password: {password}\n"
            f"      project_name: {project}\n      user_domain_id: default\n      project_domain_id: default\n"
        )

    text = "clouds:\n" + cloud(MEMBER, MEMBER, secret["member"], PROJECT)
    text += cloud(TEST_ADMIN, TEST_ADMIN, secret["test_admin"], PROJECT)
    text += cloud("cloud-admin", "admin", secret["keystone_admin"], "admin")
    write_private(STATE / "clouds.yaml", text)


def env_lines(secret: dict) -> list:
    values = {
        "BDE_WORLD_DIR": str(STATE),
        "VCENTER_URL": vcsim.url(),
        "VCENTER_USERNAME": VCENTER_USER,
        "VCENTER_PASSWORD": secret["vcenter"],
        "VCENTER_CA_FILE": str(STATE / "tls" / "ca.pem"),
        "BDE_ENDPOINT": bde.url(),
        "BDE_USERNAME": BDE_USER,
        "BDE_PASSWORD": secret["bde"],
        "BDE_CA_FILE": str(bde.HOME / "ca.pem"),
        "OS_CLIENT_CONFIG_FILE": str(STATE / "clouds.yaml"),
        "OS_CLOUD": MEMBER,
        "BDE_WORLD_ADMIN_CLOUD": TEST_ADMIN,
        "BDE_WORLD_CLOUD_ADMIN_CLOUD": "cloud-admin",
        "BDE_WORLD_KEYSTONE_URL": keystone.url() + "/v3",
        "BDE_WORLD_NEUTRON_URL": neutron.url(),
        "BDE_WORLD_VENV": str(install.venv_dir()),
        "HEAT_URL": heat.url(),
        "BDE_WORLD_LOGS": str(LOGS),
        # Heat's database, for tests that read what Heat stored (as an operator's DBA could).
        "BDE_WORLD_HEAT_DB_URL": secret["db"]["heat"],
    }
    return [f"export {k}={shell_quote(v)}" for k, v in values.items()]


def shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


COMMANDS = {
    "up": (up, 0, 0),
    "down": (down, 0, 0),
    "status": (status, 0, 0),
    "env": (env, 0, 0),
    "net": (ops.net, 2, 3),
    "net-delete": (ops.net_delete, 1, 1),
    "kill-engine": (ops.kill_engine, 1, 2),
    "outage": (ops.outage, 2, 2),
}


def main(argv: list) -> None:
    command = COMMANDS.get(argv[0]) if argv else None
    if command is None or not command[1] <= len(argv) - 1 <= command[2]:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    command[0](*argv[1:])
