"""NSX-v's part: a watcher (`world/nsxv/main.go`) that makes a vcsim portgroup for each
Neutron network, named as NSX-v names its virtual wires, after a delay."""

import json
import os

from world.config import LOGS, STATE, VCENTER_USER, write_private
from world.supervise import spawn, wait_for

PROCESSES = ["nsxv"]
PORTGROUPS = STATE / "nsxv-portgroups.json"


def start(world) -> None:
    from world.services import keystone, neutron, vcsim

    cfg = {
        "vcenter_url": vcsim.url(),
        "vcenter_username": VCENTER_USER,
        "vcenter_password": world.secret["vcenter"],
        "keystone_url": keystone.url(),
        "neutron_url": neutron.url(),
        "admin_username": "admin",
        "admin_password": world.secret["keystone_admin"],
        "admin_project": "admin",
        "delay_seconds": float(os.environ.get("BDE_WORLD_NSX_DELAY", "3")),
        "datacenter": "DC0",
        "switch": "DVS0",
    }
    write_private(STATE / "nsxv.json", json.dumps(cfg))
    PORTGROUPS.unlink(missing_ok=True)
    command = [str(world.bins / "world-nsxv"), "-config", str(STATE / "nsxv.json")]
    command += ["-ca-file", str(world.tls / "ca.pem"), "-state-file", str(PORTGROUPS)]
    spawn("nsxv", command)
    log = LOGS / "nsxv.out"
    wait_for("NSX-v watcher", lambda: b"watching Neutron" in log.read_bytes(), 60, "nsxv")


def portgroups() -> dict:
    """Neutron network id → its portgroup, as the watcher last wrote them."""
    try:
        return json.loads(PORTGROUPS.read_text())
    except (OSError, ValueError):
        return {}


def status() -> list:
    return [("nsxv", "(watches Neutron, writes portgroups into vcsim)")]
