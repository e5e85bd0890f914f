"""What the world needs on the machine: Debian's packages, the pinned Python set (Keystone,
Neutron, Heat), vcsim and the NSX-v watcher built from Debian's govmomi, the BDE simulator,
and the plugin's wheel. Slow things are cached in CACHE, keyed by what they are made from."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from world.config import CACHE, ROOT, WORLD_SRC, die, digest, run, say

APT_PACKAGES = [
    "golang-go",
    "golang-github-vmware-govmomi-dev",
    "openssl",
    "curl",
    "mariadb-server",
    "rabbitmq-server",
]
GOPATH = "/usr/share/gocode"


def ensure_apt_packages() -> None:
    missing = [
        p
        for p in APT_PACKAGES
        if subprocess.run(["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True).stdout
        != "install ok installed"
    ]
    if not missing:
        return
    if os.geteuid() != 0:
        die(f"missing Debian packages: {' '.join(missing)} (install them with apt-get as root)")
    say(f"installing Debian packages: {' '.join(missing)}")
    run(["apt-get", "update", "-qq"])
    # The packages' own services stay stopped where policy-rc.d says so (containers,
    # CI); the world runs its own MariaDB and RabbitMQ on its own ports either way.
    run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )


def venv_dir() -> Path:
    reqs = (WORLD_SRC / "requirements.txt").read_bytes()
    return CACHE / f"venv-{digest(reqs, sys.version_info[:2])}"


def ensure_venv() -> Path:
    venv = venv_dir()
    if (venv / ".complete").exists():
        return venv
    say(f"installing the pinned Python set (Neutron, Keystone, Heat) into {venv} (about a minute)")
    shutil.rmtree(venv, ignore_errors=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    run([sys.executable, "-m", "venv", str(venv)])
    run([str(venv / "bin" / "pip"), "install", "-q", "--upgrade", "pip"])
    run([str(venv / "bin" / "pip"), "install", "-q", "-r", str(WORLD_SRC / "requirements.txt")])
    (venv / ".complete").touch()
    return venv


def go_binaries() -> Path:
    sources = b"".join((WORLD_SRC / d / "main.go").read_bytes() for d in ("vcsim", "nsxv"))
    govmomi = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "golang-github-vmware-govmomi-dev"], capture_output=True, text=True
    ).stdout
    return CACHE / f"go-bin-{digest(sources, govmomi)}"


def ensure_go_binaries() -> Path:
    out = go_binaries()
    if (out / "world-vcsim").exists() and (out / "world-nsxv").exists():
        return out
    say("building vcsim and the NSX-v watcher from Debian's govmomi (about 30 s)")
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": GOPATH, "GOCACHE": str(CACHE / "go-cache"), "GOFLAGS": ""}
    for name in ("vcsim", "nsxv"):
        run(["go", "build", "-o", str(out / f"world-{name}.tmp"), "."], cwd=WORLD_SRC / name, env=env)
        os.replace(out / f"world-{name}.tmp", out / f"world-{name}")
    return out


def build_bde_sim() -> Path:
    """Builds the BDE simulator (incremental; quick when nothing changed)."""
    say("building the BDE simulator (cargo build -p bde-sim)")
    run(["cargo", "build", "-q", "-p", "bde-sim"], cwd=ROOT)
    return ROOT / "target" / "debug" / "bde-sim"


def install_plugin(venv: Path) -> None:
    """Builds the plugin's wheel and installs it into Heat's environment, as an operator would."""
    say("building and installing the Heat plugin's wheel (maturin)")
    wheels = ROOT / "target" / "wheels"
    for old in wheels.glob("bde_heat-*.whl"):
        old.unlink()
    # zig links against glibc 2.17's symbols: the manylinux2014 wheel an operator
    # installs on the heat-engine hosts of older releases is the one tested here.
    build = [str(venv / "bin" / "maturin"), "build", "--quiet", "--zig", "--compatibility", "manylinux2014"]
    run([*build, "-o", str(wheels)], cwd=ROOT, env={**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"})
    wheel = next(wheels.glob("bde_heat-*.whl"))
    run([str(venv / "bin" / "pip"), "install", "--quiet", "--no-deps", "--force-reinstall", str(wheel)])
