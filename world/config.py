"""Where the world lives, its ports and names, and the helpers every part uses."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORLD_SRC = ROOT / "world"
STATE = Path(os.environ.get("BDE_WORLD_DIR", ROOT / ".world")).resolve()
CACHE = Path(os.environ.get("BDE_HEAT_CACHE", Path.home() / ".cache" / "bde-heat")).resolve()
LOGS = STATE / "logs"
PIDS = STATE / "pids"
PORT_BASE = int(os.environ.get("BDE_WORLD_PORT_BASE", "18400"))
PORTS = {
    "keystone": PORT_BASE,
    "neutron": PORT_BASE + 1,
    "vcsim": PORT_BASE + 2,
    "bde": PORT_BASE + 3,
    "heat": PORT_BASE + 4,
    "mariadb": PORT_BASE + 5,
    "rabbitmq": PORT_BASE + 6,
    "epmd": PORT_BASE + 7,
    "rabbitmq-dist": PORT_BASE + 8,
}
HOST = "127.0.0.1"
REGION = "RegionOne"
PROJECT = "bde"
MEMBER = "bde-member"
TEST_ADMIN = "bde-admin"
VCENTER_USER = "administrator@vsphere.local"
BDE_USER = "bde-admin@vsphere.local"
HEAT_ENGINES = 2


def say(msg: str) -> None:
    print(f"world: {msg}", file=sys.stderr, flush=True)


def die(msg: str) -> "None":
    say(f"error: {msg}")
    sys.exit(1)


def run(cmd: list, **kw) -> subprocess.CompletedProcess:
    """Runs a command (never through a shell); its output goes to the setup log."""
    LOGS.mkdir(parents=True, exist_ok=True)
    with open(LOGS / "setup.log", "a") as log:
        log.write(f"$ {' '.join(str(c) for c in cmd)}\n")
        log.flush()
        result = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, **kw)
    if result.returncode != 0:
        die(f"{Path(str(cmd[0])).name} failed (exit {result.returncode}); see {LOGS / 'setup.log'}")
    return result


def digest(*parts) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else str(part).encode())
        h.update(b"\0")
    return h.hexdigest()[:12]


def write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def render(template: Path, **values) -> str:
    """A configuration file from its template beside a service: `{name}` fields filled in."""
    return template.read_text().format(**values)
