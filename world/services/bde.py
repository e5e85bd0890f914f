"""BDE: the project's Serengeti simulator (`crates/bde-sim`) on loopback TLS (its own CA),
cloning real VMs in vcsim and running their guests' DHCP against Neutron's ports."""

import json
import os
import ssl
import urllib.request

from world.config import BDE_USER, HOST, PORTS, STATE, VCENTER_USER, write_private
from world.supervise import http_ok, spawn, wait_for

PROCESSES = ["bde"]
HOME = STATE / "bde"


def url() -> str:
    return f"https://{HOST}:{PORTS['bde']}"


def start(world) -> None:
    from world.services import keystone, vcsim

    HOME.mkdir(parents=True, exist_ok=True)
    cfg = {
        "listen": f"{HOST}:{PORTS['bde']}",
        "state_dir": str(HOME),
        "version": os.environ.get("BDE_WORLD_BDE_VERSION", "2.3.2"),
        "users": [{"username": BDE_USER, "password": world.secret["bde"]}],
        "vcenter": {
            "url": vcsim.url(),
            "username": VCENTER_USER,
            "password": world.secret["vcenter"],
            "ca_file": str(world.tls / "ca.pem"),
            "datacenter": "DC0",
        },
        "openstack": {
            "auth_url": keystone.url() + "/v3",
            "username": "admin",
            "password": world.secret["keystone_admin"],
            "project_name": "admin",
        },
        "time_scale": float(os.environ.get("BDE_WORLD_TIME_SCALE", "0.2")),
        "seed": int(os.environ.get("BDE_WORLD_SEED", "1")),
    }
    write_private(HOME / "config.json", json.dumps(cfg, indent=1))
    spawn("bde", [str(world.sim), "--config", str(HOME / "config.json")])
    wait_for("BDE simulator", lambda: (HOME / "ca.pem").exists() and answers(), 120, "bde")


def answers() -> bool:
    return http_ok(url() + "/sim/faults", context())


def context() -> ssl.SSLContext:
    """TLS trusting the simulator's own CA."""
    return ssl.create_default_context(cafile=str(HOME / "ca.pem"))


def take_api_down(seconds: float) -> None:
    """The simulator's outage knob: its API answers nothing for `seconds`; its jobs go on."""
    req = urllib.request.Request(f"{url()}/sim/outage?seconds={seconds:g}", method="POST")
    urllib.request.urlopen(req, timeout=30, context=context()).close()


def status() -> list:
    return [("bde", f"{url()}/serengeti")]
