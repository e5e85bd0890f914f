"""What tests and people do to a running world: make and delete a network (with its NSX-v
portgroup), take Neutron or BDE away for a while, SIGKILL a Heat engine."""

import json
import time
import urllib.error
import urllib.parse
import urllib.request

from world.config import HEAT_ENGINES, LOGS, MEMBER, PROJECT, die, say
from world.install import venv_dir
from world.passwords import load as load_secrets
from world.services import bde, heat, keystone, neutron, nsxv
from world.supervise import kill, running_pid, wait_for


def member_token(secret: dict) -> tuple:
    """A token of the world's project member, and the project's id."""
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": MEMBER, "domain": {"id": "default"}, "password": secret["member"]}},
            },
            "scope": {"project": {"name": PROJECT, "domain": {"id": "default"}}},
        }
    }
    req = urllib.request.Request(
        keystone.url() + "/v3/auth/tokens",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.headers["X-Subject-Token"], json.load(resp)["token"]["project"]["id"]


def neutron_call(token: str, method: str, path: str, body: dict | None = None) -> dict:
    req = urllib.request.Request(
        neutron.url() + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"X-Auth-Token": token, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.load(resp) if resp.status != 204 else {}
    except urllib.error.HTTPError as err:
        die(f"Neutron {method} {path}: HTTP {err.code}: {err.read().decode(errors='replace')[:300]}")


def require_up() -> None:
    if running_pid("neutron") is None or running_pid("nsxv") is None:
        die("the world is not up: run scripts/world up")


def net(name: str, cidr: str, pool: str = "") -> None:
    """A network and DHCP subnet as the member (its allocation pool FIRST-LAST if given, else
    Neutron's whole-subnet default); waits for its portgroup and prints the three."""
    require_up()
    token, _project = member_token(load_secrets())
    network = neutron_call(token, "POST", "/v2.0/networks", {"network": {"name": name}})["network"]
    subnet = {"name": f"{name}-subnet", "network_id": network["id"], "ip_version": 4, "cidr": cidr, "enable_dhcp": True}
    if pool:
        first, _, last = pool.partition("-")
        subnet["allocation_pools"] = [{"start": first, "end": last or first}]
    subnet = neutron_call(token, "POST", "/v2.0/subnets", {"subnet": subnet})["subnet"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        mapping = nsxv.portgroups()
        if network["id"] in mapping:
            print(f"NETWORK_ID={network['id']}\nSUBNET_ID={subnet['id']}\nPORTGROUP={mapping[network['id']]}")
            return
        time.sleep(0.2)
    die(f"no NSX-v portgroup appeared for network {network['id']} within 60 s; see {LOGS / 'nsxv.out'}")


def net_delete(network_id: str) -> None:
    """Deletes a network as the member and waits for its portgroup to go."""
    require_up()
    token, _project = member_token(load_secrets())
    neutron_call(token, "DELETE", f"/v2.0/networks/{urllib.parse.quote(network_id)}")
    deadline = time.monotonic() + 60
    while network_id in nsxv.portgroups():
        if time.monotonic() > deadline:
            die(f"the portgroup of network {network_id} was not removed within 60 s")
        time.sleep(0.2)
    print(f"DELETED={network_id}")


def kill_engine(number: str, *flags: str) -> None:
    """SIGKILLs heat-engine N (its host dying); with --restart, starts it again on the same
    database and waits until it serves."""
    if not number.isdigit() or not 1 <= int(number) <= HEAT_ENGINES or set(flags) - {"--restart"}:
        die(f"kill-engine N [--restart], N from 1 to {HEAT_ENGINES}")
    engine = f"heat-engine-{number}"
    say(f"{engine} killed" if kill(engine) else f"{engine} was not running")
    if "--restart" in flags:
        heat.start_engine(venv_dir(), engine)
        heat.wait_until_serving(engine)
        say(f"{engine} serves again")


def outage(service: str, seconds: str) -> None:
    """Takes Neutron (stopped, then started on the same database) or the BDE simulator's API
    (its outage knob) away for SECONDS, and returns once it answers again."""
    pause = float(seconds)
    if service == "neutron":
        neutron.shut_down()
        say(f"neutron stopped for {pause:g} s")
        time.sleep(pause)
        neutron.serve(venv_dir())
    elif service == "bde":
        bde.take_api_down(pause)
        say(f"bde's API down for {pause:g} s")
        time.sleep(pause)
        wait_for("BDE", bde.answers, 60, "bde")
    else:
        die("outage: neutron or bde")
    say(f"{service} is back")
