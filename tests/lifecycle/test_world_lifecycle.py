"""`scripts/world down` stops exactly what `up` started; `up` brings it back."""

import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.takes_the_world_away


def world(*args, check=True):
    return subprocess.run(
        [str(ROOT / "scripts" / "world"), *args], check=check, capture_output=True, text=True, timeout=600
    )


def recorded_pids(state):
    return {p.stem: int(p.read_text().split()[0]) for p in (state / "pids").glob("*.pid")}


def alive(pid):
    return Path(f"/proc/{pid}").exists()


def processes_mentioning(text):
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append((int(proc.name), cmdline))
    return found


def test_up_when_up_is_quick(world_env):
    started = time.monotonic()
    result = world("up")
    assert "already up" in result.stderr
    assert time.monotonic() - started < 5


def test_down_leaves_no_process_of_the_world_and_up_restores_it(world_env):
    state = Path(world_env["BDE_WORLD_DIR"])
    pids = recorded_pids(state)
    assert pids.keys() == {
        "mariadb",
        "epmd",
        "rabbitmq",
        "keystone",
        "neutron",
        "vcsim",
        "nsxv",
        "bde",
        "heat-api",
        "heat-engine-1",
        "heat-engine-2",
    }
    assert all(alive(p) for p in pids.values())

    world("down")
    assert [name for name, pid in pids.items() if alive(pid)] == []
    assert processes_mentioning(str(state)) == [], "a process still uses the world's state"
    assert world("status", check=False).returncode != 0

    started = time.monotonic()
    world("up")
    took = time.monotonic() - started
    print(f"world up (cached) took {took:.1f} s")
    assert world("status").returncode == 0
    assert os.environ["OS_CLOUD"]


def test_a_restarted_neutron_takes_concurrent_first_requests_from_a_member(world_env):
    # Neutron publishes its policy enforcer before registering its rules; on a cold worker,
    # concurrent first requests were denied (403 on create_network) until the world loaded
    # the rules at each worker's start.
    import openstack

    world("outage", "neutron", "1")
    conns = [openstack.connect(cloud=world_env["OS_CLOUD"]) for _ in range(12)]
    for conn in conns:
        conn.authorize()

    def make_and_delete(pair):
        index, conn = pair
        network = conn.network.create_network(name=f"cold-start-{index}")
        conn.network.delete_network(network)
        return network.name

    with ThreadPoolExecutor(len(conns)) as pool:
        made = sorted(pool.map(make_and_delete, enumerate(conns)))
    assert made == sorted(f"cold-start-{i}" for i in range(12))
