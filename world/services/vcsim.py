"""vCenter: govmomi's vcsim (built from Debian's govmomi, `world/vcsim/main.go`) on loopback
TLS, with the world's datacenter, DVS and hosts; extra VMs and a per-call delay on request."""

import os

from world.config import HOST, PORTS, STATE, VCENTER_USER, write_private
from world.supervise import spawn, wait_for

PROCESSES = ["vcsim"]


def url() -> str:
    return f"https://{HOST}:{PORTS['vcsim']}/sdk"


def start(world) -> None:
    home = STATE / "vcsim"
    home.mkdir(parents=True, exist_ok=True)
    write_private(home / "password", world.secret["vcenter"])
    url_file = home / "url"
    url_file.unlink(missing_ok=True)
    command = [str(world.bins / "world-vcsim"), "-listen", f"{HOST}:{PORTS['vcsim']}"]
    command += ["-username", VCENTER_USER, "-password-file", str(home / "password")]
    command += ["-cert", str(world.tls / "server.pem"), "-key", str(world.tls / "server.key")]
    command += ["-url-file", str(url_file), "-extra-vms", os.environ.get("BDE_WORLD_EXTRA_VMS", "0")]
    command += ["-delay-ms", os.environ.get("BDE_WORLD_VCSIM_DELAY_MS", "0")]
    spawn("vcsim", command, cwd=home)
    wait_for("vcsim", url_file.exists, 600, "vcsim")


def status() -> list:
    return [("vcsim", url())]
