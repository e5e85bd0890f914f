"""The production path: the world's Heat (heat-api behind keystonemiddleware, two convergence
engines over RabbitMQ, MariaDB, trusts) driven by `openstack stack ...` as an operator's user
would, with the plugin installed from its wheel. Slow (a minute or two a test); runs last in
scripts/test."""

import functools
import json
import os
import random
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import openstack
import pymysql
import pytest
import yaml
from bde_heat import _engine
from keystoneauth1.exceptions.http import NotFound

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

pytestmark = pytest.mark.usefixtures("world_env")


def cli(*args, check=True):
    """One `openstack` command as the world's project member; JSON output parsed when asked for."""
    cmd = [os.path.join(os.environ["BDE_WORLD_VENV"], "bin", "openstack"), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args[:3])}: exit {done.returncode}\n{done.stdout}\n{done.stderr}")
    if "-f" in args and args[args.index("-f") + 1] == "json" and done.returncode == 0:
        return json.loads(done.stdout)
    return done


@functools.cache
def api():
    """The member's session to the cloud (one login per test process). Tests drive stacks with
    the `openstack` command as an operator does; the many reads in between go through this
    session: each `openstack` run costs ~2.5 s of CPU (its start and a login) on two cores."""
    return openstack.connect(cloud=os.environ["OS_CLOUD"])


def heat_read(path):
    """A GET of Heat's API; NotFound when it answers 404, an error for any other failure."""
    answer = api().orchestration.get(path)
    if answer.status_code == 404:
        raise NotFound(f"GET {path}: 404")
    assert answer.ok, f"GET {path}: {answer.status_code} {answer.text[:300]}"
    return answer.json()


def shown(stack):
    """The stack as `openstack stack show` shows it (Heat redirects a name to its id)."""
    return heat_read(f"/stacks/{stack}")["stack"]


def stack_path(stack):
    """`/stacks/NAME/ID`: Heat redirects a name alone only for whole collections."""
    return f"/stacks/{stack}/{shown(stack)['id']}"


def status(stack):
    return shown(stack)["stack_status"]


def gone(stack):
    """Whether Heat no longer shows the stack (as `openstack stack show` fails on it)."""
    try:
        shown(stack)
    except NotFound:
        return True
    return False


def output(stack, key):
    return heat_read(f"{stack_path(stack)}/outputs/{key}")["output"]["output_value"]


def compute_ports(network_id):
    return [p for p in api().network.ports(network_id=network_id) if p.device_owner == "compute:bde"]


def resource_id(stack, name):
    return heat_read(f"{stack_path(stack)}/resources/{name}")["resource"]["physical_resource_id"]


def assert_wired(stack, count):
    nodes = output(stack, "nodes")
    ports = compute_ports(resource_id(stack, "network"))
    assert len(nodes) == count, nodes
    assert sorted(p.mac_address for p in ports) == sorted(n["mac"] for n in nodes)
    by_mac = {p.mac_address: p for p in ports}
    for n in nodes:
        assert by_mac[n["mac"]].fixed_ips[0]["ip_address"] == n["address"], n
        assert by_mac[n["mac"]].id == n["port_id"]
    return nodes


# Every Keystone fernet token starts so (version byte 0x80, then the time's high bytes).
FERNET_TOKEN = "gAAAAA"


def member_password():
    with open(os.environ["OS_CLIENT_CONFIG_FILE"]) as f:
        return yaml.safe_load(f)["clouds"][os.environ["OS_CLOUD"]]["auth"]["password"]


def heat_query(sql, *params):
    """Rows of Heat's database (MariaDB), read as an operator's DBA would."""
    url = urlsplit(os.environ["BDE_WORLD_HEAT_DB_URL"])
    db = pymysql.connect(
        host=url.hostname,
        port=url.port,
        user=url.username,
        password=url.password,
        database=url.path.strip("/"),
        autocommit=True,
        connect_timeout=10,
    )
    try:
        with db.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    finally:
        db.close()


def heat_resource_data():
    """Every value Heat stored for resources (its database), as an operator's DBA could read it."""
    return " ".join(str(v) for row in heat_query("SELECT `key`, value FROM resource_data") for v in row)


def heat_log_paths():
    return sorted(Path(os.environ["BDE_WORLD_LOGS"]).glob("heat-*.log"))


def heat_logs():
    """What heat-api and every heat-engine logged."""
    return "".join(path.read_text(errors="replace") for path in heat_log_paths())


def heat_log_sizes():
    """Where each Heat log ends now, for `heat_logs_since`."""
    return {path: path.stat().st_size for path in heat_log_paths()}


def heat_logs_since(sizes):
    """What Heat logged after `heat_log_sizes()` returned `sizes`, file by file (each engine
    writes its own log, so one offset into them all would cut another's lines)."""
    text = b""
    for path in heat_log_paths():
        with path.open("rb") as log:
            log.seek(sizes.get(path, 0))
            text += log.read()
    return text.decode(errors="replace")


def example_args(stack):
    """`stack create` arguments for the example template on the world, named after the stack."""
    return [
        "-t",
        str(EXAMPLES / "hadoop-cluster.yaml"),
        "--parameter",
        f"bde_endpoint={os.environ['BDE_ENDPOINT']}",
        "--parameter",
        f"vcenter={os.environ['VCENTER_URL']}",
        "--parameter",
        f"cluster_name={stack}",
    ]


# A stack's whole life through the API, in two stacks side by side (pytest-xdist runs them on two
# workers): grow, suspend and resume; then check, drift, converge and shrink.


def test_an_operator_creates_grows_suspends_and_resumes_a_stack_through_the_api():
    stack = f"prod{uuid.uuid4().hex[:6]}"
    cli("stack", "create", *example_args(stack), "--parameter", "workers=2", "--wait", stack)
    assert status(stack) == "CREATE_COMPLETE"
    assert output(stack, "status") == "RUNNING"
    assert output(stack, "portgroup").startswith("vxw-dvs-")
    assert_wired(stack, 3)

    cli("stack", "update", "--existing", "--parameter", "workers=4", "--wait", stack)
    assert status(stack) == "UPDATE_COMPLETE"
    assert resource_id(stack, "cluster") == stack, "resized in place"
    assert_wired(stack, 5)

    cli("stack", "suspend", "--wait", stack)
    assert status(stack) == "SUSPEND_COMPLETE"
    assert output(stack, "status") == "STOPPED"
    cli("stack", "resume", "--wait", stack)
    assert status(stack) == "RESUME_COMPLETE"
    assert_wired(stack, 5)
    delete_showing_no_secret(stack)


def test_an_operator_checks_a_stack_converges_its_drift_and_shrinks_it_through_the_api():
    stack = f"prod{uuid.uuid4().hex[:6]}"
    cli("stack", "create", *example_args(stack), "--parameter", "workers=3", "--wait", stack)
    assert status(stack) == "CREATE_COMPLETE"
    assert_wired(stack, 4)

    cli("stack", "check", "--wait", stack)
    assert status(stack) == "CHECK_COMPLETE"

    # Drift behind the product's back: a port deleted in Neutron.
    victim = compute_ports(resource_id(stack, "network"))[0]
    api().network.delete_port(victim.id)
    cli("stack", "check", "--wait", stack, check=False)
    assert status(stack) == "CHECK_FAILED"
    reason = shown(stack)["stack_status_reason"]
    assert "vm_without_port" in reason, reason
    cli("stack", "update", "--existing", "--converge", "--wait", stack)
    assert status(stack) == "UPDATE_COMPLETE"
    assert_wired(stack, 4)

    cli("stack", "update", "--existing", "--parameter", "workers=1", "--wait", stack)
    assert_wired(stack, 2)
    delete_showing_no_secret(stack)


def delete_showing_no_secret(stack):
    """Deletes the stack (its ports and network go with it), then looks for a configured
    password or token anywhere an operator or user can look: events, the stack, the
    resource's attributes, Heat's logs and what it stored."""
    network_id = resource_id(stack, "network")
    events = cli("stack", "event", "list", stack, "--resource", "cluster", "-f", "json")
    # `event show` prints the resource's properties in plain text: a few are enough to look at.
    visible = json.dumps(events) + json.dumps(cli("stack", "show", stack, "-f", "json"))
    for event in events[:: max(1, len(events) // 4)]:
        visible += json.dumps(cli("stack", "event", "show", stack, "cluster", event["id"], "-f", "json"))
    visible += json.dumps(cli("stack", "resource", "show", stack, "cluster", "--with-attr", "show", "-f", "json"))
    cli("stack", "delete", "--yes", "--wait", stack)
    assert compute_ports(network_id) == []
    assert api().network.find_network(network_id) is None, "the stack deleted its network"
    assert stack not in json.dumps(cli("stack", "list", "-f", "json"))

    seen = visible + heat_logs() + heat_resource_data()
    for secret in (os.environ["BDE_PASSWORD"], os.environ["VCENTER_PASSWORD"], member_password()):
        assert secret not in seen
    assert FERNET_TOKEN not in seen, "a Keystone token (the plugin hands one to Rust at every step)"


def test_a_stack_update_gives_workers_more_memory_on_the_same_vms_and_adds_a_group(tmp_path, bde_api):
    """Through Heat's API: the workers' memory changes in place (BDE's scale: same VMs, same
    ports), then a new node group is added (BDE's expand) and wired; the physical id stays."""
    stack = f"shape{uuid.uuid4().hex[:6]}"
    template = yaml.safe_load((EXAMPLES / "hadoop-cluster.yaml").read_text())
    template["parameters"]["worker_memory"] = {"type": "number", "default": 1024}
    workers = template["resources"]["cluster"]["properties"]["node_groups"][1]
    workers["memory_mb"] = {"get_param": "worker_memory"}
    first = tmp_path / "first.yaml"
    first.write_text(yaml.safe_dump(template))
    args = [a if a != str(EXAMPLES / "hadoop-cluster.yaml") else str(first) for a in example_args(stack)]
    cli("stack", "create", *args, "--parameter", "workers=1", "--wait", stack)
    before = {n["name"]: n["port_id"] for n in assert_wired(stack, 2)}

    cli("stack", "update", "--existing", "--parameter", "worker_memory=2048", "--wait", stack)
    assert status(stack) == "UPDATE_COMPLETE"
    assert resource_id(stack, "cluster") == stack, "changed in place, not replaced"
    assert {n["name"]: n["port_id"] for n in assert_wired(stack, 2)} == before, "same VMs, same ports"
    session, api = bde_api
    read = session.get(f"{api}/cluster/{stack}?details=true", timeout=30).json()
    groups = {g["name"]: g for g in read["nodeGroups"]}
    # The master's MEDIUM instance type gives it 7,500 MB; it stays so.
    assert (groups["worker"]["memCapacityMB"], groups["master"]["memCapacityMB"]) == (2048, 7500)

    template["resources"]["cluster"]["properties"]["node_groups"].append(
        {"name": "client", "roles": ["hadoop_client"], "instance_num": 1}
    )
    second = tmp_path / "second.yaml"
    second.write_text(yaml.safe_dump(template))
    cli("stack", "update", "--existing", "-t", str(second), "--wait", stack)
    assert status(stack) == "UPDATE_COMPLETE"
    after = {n["name"]: n["port_id"] for n in assert_wired(stack, 3)}
    assert all(after[name] == port for name, port in before.items()), "the first VMs keep their ports"
    assert any(name.startswith(f"{stack}-client-") for name in after)
    cli("stack", "delete", "--yes", "--wait", stack)


def test_an_ha_cluster_from_a_bde_spec_file_on_three_networks_gets_a_port_per_nic(bde_api):
    """Through Heat's API: the HA layout comes unchanged from a BDE spec file (get_file), the
    template's configuration merged over it; HDFS and MapReduce traffic on networks the stack
    makes; every VM has three NICs, each with its port on its network; delete leaves none."""
    stack = f"ha{uuid.uuid4().hex[:6]}"
    args = [
        "-t",
        str(EXAMPLES / "hadoop-ha-three-networks.yaml"),
        "--parameter",
        f"bde_endpoint={os.environ['BDE_ENDPOINT']}",
        "--parameter",
        f"vcenter={os.environ['VCENTER_URL']}",
        "--parameter",
        f"cluster_name={stack}",
    ]
    cli("stack", "create", *args, "--wait", stack)
    assert status(stack) == "CREATE_COMPLETE"
    nodes = output(stack, "nodes")
    assert len(nodes) == 8, nodes
    networks = [resource_id(stack, n) for n in ("mgt_net", "hdfs_net", "mapred_net")]
    for index, network_id in enumerate(networks):
        ports = {p.id: p for p in compute_ports(network_id)}
        assert len(ports) == 8, f"one port per VM on network {index}"
        for n in nodes:
            nic = n["nics"][index]
            port = ports[nic["port_id"]]
            assert (port.mac_address, port.fixed_ips[0]["ip_address"]) == (nic["mac"], nic["ip"]), n
    session, api = bde_api
    spec = session.get(f"{api}/cluster/{stack}/spec", timeout=30).json()
    groups = {g["name"]: g for g in spec["nodeGroups"]}
    assert groups["nn"]["instanceNum"] == 2 and groups["nn"]["haFlag"] == "on"
    assert groups["worker"]["storage"]["type"] == "LOCAL" and groups["worker"]["storage"]["sizeGB"] == 40
    site = spec["configuration"]["hadoop"]["hdfs-site.xml"]
    assert site == {"dfs.replication": "2", "dfs.blocksize": "128m"}, "the file's and the template's"
    cli("stack", "delete", "--yes", "--wait", stack)
    assert all(not compute_ports(n) for n in networks)
    bde_networks = {n["name"] for n in session.get(f"{api}/networks", timeout=30).json()}
    assert not bde_networks & {f"neutron-{n}" for n in networks}


def test_two_unnamed_stacks_from_one_template_and_tunables_password_and_distro_updates(tmp_path):
    """Through Heat's API: one template without cluster_name makes two stacks (each its own
    cluster); dhcp_grace_seconds and the BDE password change in place (same physical id, same
    VMs and ports); a distro BDE does not offer is refused naming distro, nothing touched."""
    template = yaml.safe_load((EXAMPLES / "hadoop-cluster.yaml").read_text())
    cluster = template["resources"]["cluster"]["properties"]
    del cluster["cluster_name"]
    unnamed = tmp_path / "unnamed.yaml"
    unnamed.write_text(yaml.safe_dump(template))
    stacks = [f"un{uuid.uuid4().hex[:6]}" for _ in range(2)]
    for stack in stacks:
        args = [a if a != str(EXAMPLES / "hadoop-cluster.yaml") else str(unnamed) for a in example_args(stack)]
        cli("stack", "create", *args, "--parameter", "workers=1", "--wait", stack)
    ids = [resource_id(stack, "cluster") for stack in stacks]
    assert all(status(s) == "CREATE_COMPLETE" for s in stacks), ids
    assert len(set(ids)) == 2 and all(ids), ids
    before = {n["name"]: n["port_id"] for n in assert_wired(stacks[0], 2)}

    cluster["dhcp_grace_seconds"] = 150
    # The template's own login, where the operator's credentials file gave it.
    cluster["username"] = os.environ["BDE_USERNAME"]
    cluster["password"] = os.environ["BDE_PASSWORD"]
    tuned = tmp_path / "tuned.yaml"
    tuned.write_text(yaml.safe_dump(template))
    cli("stack", "update", "--existing", "-t", str(tuned), "--wait", stacks[0])
    assert status(stacks[0]) == "UPDATE_COMPLETE"
    assert resource_id(stacks[0], "cluster") == ids[0], "changed in place"
    assert {n["name"]: n["port_id"] for n in assert_wired(stacks[0], 2)} == before, "same VMs, same ports"

    named = dict(template, resources=dict(template["resources"]))
    named["resources"]["cluster"] = dict(template["resources"]["cluster"])
    named["resources"]["cluster"]["properties"] = dict(cluster, cluster_name=ids[1], distro="mapr")
    distro = tmp_path / "distro.yaml"
    distro.write_text(yaml.safe_dump(named))
    refused = cli("stack", "update", "--existing", "-t", str(distro), "--wait", stacks[1], check=False)
    after = shown(stacks[1])
    # BDE offers no "mapr": Heat's validate refuses the update before it starts, naming distro
    # (a distro BDE does offer is refused by the update itself, naming it: tests/plugin).
    assert refused.returncode != 0, refused.stdout
    assert "Property distro" in refused.stderr, refused.stderr
    assert after["stack_status"] == "CREATE_COMPLETE", after["stack_status_reason"]
    assert resource_id(stacks[1], "cluster") == ids[1]
    assert_wired(stacks[1], 2)
    for stack in stacks:
        cli("stack", "delete", "--yes", "--wait", stack)


@pytest.mark.parametrize("example", ["mesosphere_stack.json", "mesos_instance.json"])
def test_the_2015_plugins_example_deploys_with_its_endpoints_changed(tmp_path, example):
    """Both 2015 shapes: `network` with a subnet, and the older `cluster_net` without one."""
    template = json.loads((EXAMPLES / "2015" / example).read_text())
    props = template["Resources"]["Mesosphere-Cell-0"]["Properties"]
    props["bde_endpoint"] = os.environ["BDE_ENDPOINT"]
    props["vcm_server"] = os.environ["VCENTER_URL"]
    # The world's BDE has its own user; a 2015 template names its credentials itself.
    props["username"] = os.environ["BDE_USERNAME"]
    props["password"] = os.environ["BDE_PASSWORD"]
    path = tmp_path / example
    path.write_text(json.dumps(template))
    stack = f"mesos{uuid.uuid4().hex[:6]}"
    cli("stack", "create", "-t", str(path), "--wait", stack)
    assert status(stack) == "CREATE_COMPLETE"
    nodes = cli("stack", "resource", "show", stack, "Mesosphere-Cell-0", "--with-attr", "nodes", "-f", "json")
    network_id = resource_id(stack, "mesos_network_01")
    assert len(compute_ports(network_id)) == len(nodes["attributes"]["nodes"]) > 0
    cli("stack", "delete", "--yes", "--wait", stack)
    assert compute_ports(network_id) == []


def wait_for(what, check, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(1)
    raise AssertionError(f"no {what} after {seconds} s")


def wait_for_cluster_creating(stack):
    wait_for(
        "cluster being created",
        lambda: (
            heat_read(f"{stack_path(stack)}/resources/cluster")["resource"]["resource_status"] == "CREATE_IN_PROGRESS"
        ),
    )


def kill_engine(engine, restart):
    """SIGKILLs one heat-engine (`heat-engine-N`: its host dying); starts it again if asked."""
    number = engine.rsplit("-", 1)[1]
    args = [str(ROOT / "scripts" / "world"), "kill-engine", number, *(["--restart"] if restart else [])]
    subprocess.run(args, check=True, capture_output=True, timeout=300)


def kill_engine_working_on(stack, restart=True):
    """SIGKILLs the heat-engine working on the stack now (both, if Heat shows neither within 5 s);
    with `restart`, each is started again at once. Returns the engines killed."""
    deadline = time.monotonic() + 5
    working = engines_working_on(stack)
    while not working and time.monotonic() < deadline:
        time.sleep(0.1)
        working = engines_working_on(stack)
    for engine in working or ENGINES:
        kill_engine(engine, restart)
    return working or ENGINES


ENGINES = ["heat-engine-1", "heat-engine-2"]


def restart_heat(stack):
    """heat-engine working on the stack SIGKILLed (a crash) and started again on the same database."""
    kill_engine_working_on(stack, restart=True)


def finish_by_update(stack):
    """`stack update --existing` until the cluster is finished. A create that BDE failed meanwhile
    (the world's scaled BDE gives up waiting for an address while heat-engine is dead) fails the
    update with the resume hint; the product's answer is one more update, which resumes it."""
    for _ in range(2):
        cli("stack", "update", "--existing", "--wait", stack, check=False)
        wait_for("the update done", lambda: not status(stack).endswith("IN_PROGRESS"), 600)
        if status(stack) == "UPDATE_COMPLETE":
            return
        reason = cli("stack", "resource", "show", stack, "cluster", "-f", "json")["resource_status_reason"]
        assert "resume" in reason, reason
        print(f"{stack}: a failed create, resumed by the next update: {reason[:160]}")
    assert status(stack) == "UPDATE_COMPLETE"


def bde_cluster_exists(bde_api, name):
    """Whether BDE knows the cluster."""
    session, api = bde_api
    found = session.get(f"{api}/cluster/{name}", timeout=30)
    assert found.status_code in (200, 404), found.text
    return found.status_code == 200


@pytest.mark.kills_heat_engines
def test_heat_engine_killed_at_random_moments_of_create_and_delete_leaves_one_cluster_then_nothing(bde_api):
    """heat-engine SIGKILLed at random moments (seeded: BDE_HEAT_KILL_SEED replays, BDE_HEAT_KILLS asks
    for more) while the cluster is created, while updates finish it, and while the stack is deleted.
    After each kill no MAC has two ports; the stack ends with the one cluster wired, then with nothing."""
    seed = int(os.environ.get("BDE_HEAT_KILL_SEED") or time.time_ns() % 1_000_000)
    kills = int(os.environ.get("BDE_HEAT_KILLS", "3"))
    rng = random.Random(seed)
    print(f"heat kill run: seed {seed}, {kills} kills while creating and 1 while deleting")
    stack = f"rk{uuid.uuid4().hex[:6]}"
    cli("stack", "create", *example_args(stack), "--parameter", "workers=2", stack)
    wait_for_cluster_creating(stack)
    network_id = resource_id(stack, "network")
    landed = []  # (stack status when killed, seconds after the last action, compute ports then)
    for kill in range(kills):
        moment = round(rng.uniform(0.2, 4.0), 1)
        time.sleep(moment)
        before = status(stack)
        if not before.endswith("IN_PROGRESS"):
            print(f"heat kill run: the stack was {before} before kill {kill + 1} ({moment} s)")
            break
        restart_heat(stack)
        macs = [p.mac_address for p in compute_ports(network_id)]
        assert len(macs) == len(set(macs)), f"two ports for one MAC after kill {kill + 1}: {macs}"
        landed.append((before, moment, len(macs)))
        cli("stack", "update", "--existing", stack)  # takes the dead engine's work over
    finish_by_update(stack)
    assert status(stack) == "UPDATE_COMPLETE"
    assert resource_id(stack, "cluster") == stack, "the same cluster, finished, not a second one"
    assert_wired(stack, 3)

    cli("stack", "delete", "--yes", stack)
    moment = round(rng.uniform(0.1, 1.2), 1)  # BDE deletes the world's VMs in a second or two
    time.sleep(moment)
    before = "GONE" if gone(stack) else status(stack)
    if before == "DELETE_IN_PROGRESS":
        restart_heat(stack)
        landed.append((before, moment, len(compute_ports(network_id))))
    else:
        print(f"heat kill run: the stack was {before} before the kill in delete ({moment} s)")
    # Not `--wait`: it stops at the event of the dead engine's delete being cancelled.
    cli("stack", "delete", "--yes", stack, check=False)
    wait_for("the stack gone", lambda: gone(stack), 300)
    assert compute_ports(network_id) == []
    assert not bde_cluster_exists(bde_api, stack), "BDE's cluster is gone"
    print(f"heat kill run: {len(landed)} kills (stack status, seconds after the last action, ports): {landed}")
    assert sum(1 for k in landed if k[0].endswith("IN_PROGRESS")) >= 2, "kills landed while Heat worked"


def sim_faults(knobs):
    """Sets these knobs of the BDE simulator's fault set (`None` clears one), leaving the
    others' (tests run side by side): a JSON merge patch."""
    import requests

    url = os.environ["BDE_ENDPOINT"] + "/sim/faults"
    requests.patch(url, json=knobs, verify=os.environ["BDE_CA_FILE"], timeout=30).raise_for_status()


def test_a_failed_clone_fails_the_stack_clearly_and_an_update_resumes_the_same_cluster():
    stack = f"cf{uuid.uuid4().hex[:6]}"
    victim = f"{stack}-worker-1"
    sim_faults({"fail_clone": [victim]})
    try:
        # Heat itself deletes a resource in error and creates it again (action_retry_limit):
        # with the clone failing every time, the stack ends failed.
        cli("stack", "create", *example_args(stack), "--parameter", "workers=2", stack)
        wait_for("the stack failed", lambda: status(stack) in ("CREATE_FAILED", "CREATE_COMPLETE"), 600)
    finally:
        sim_faults({"fail_clone": None})
    assert status(stack) == "CREATE_FAILED"
    reason = cli("stack", "resource", "show", stack, "cluster", "-f", "json")["resource_status_reason"]
    assert victim in reason and "resume" in reason, reason
    events = cli("stack", "event", "list", stack, "-f", "json")
    retries = sum(1 for e in events if e["resource_name"] == "cluster" and e["resource_status"] == "DELETE_COMPLETE")
    print(f"clone fault through Heat: {retries} delete-and-create retries by Heat, then: {reason}")
    # The operator's retry: BDE resumes the same cluster; the VMs it made stay.
    cli("stack", "update", "--existing", "--wait", stack)
    assert status(stack) == "UPDATE_COMPLETE"
    assert resource_id(stack, "cluster") == stack, "the same cluster, not a second one"
    assert_wired(stack, 3)
    network_id = resource_id(stack, "network")
    cli("stack", "delete", "--yes", "--wait", stack)
    assert compute_ports(network_id) == []


def outage(service, seconds):
    subprocess.run([str(ROOT / "scripts" / "world"), "outage", service, str(seconds)], check=True, capture_output=True)


@pytest.mark.takes_the_world_away
def test_a_stack_create_rides_out_bde_and_neutron_going_away():
    """BDE's API down (its sessions lost, heat-engine's cached one with them), then Neutron stopped
    and started again, while the cluster is created: the stack still completes, wired, and the
    outages are in Heat's log once each, without a secret."""
    stack = f"ou{uuid.uuid4().hex[:6]}"
    logs_before = heat_log_sizes()
    cli("stack", "create", *example_args(stack), "--parameter", "workers=2", stack)
    wait_for_cluster_creating(stack)
    # Longer than the transport's own retries of one call (four, 0.2 s doubling, jittered: 3 to
    # 6 s) plus a check's wait on vCenter (wire_wait_seconds, 5 s), so a step meets the outage.
    outage("bde", 15)
    outage("neutron", 6)
    wait_for("the stack done", lambda: status(stack) in ("CREATE_COMPLETE", "CREATE_FAILED"), 600)
    assert status(stack) == "CREATE_COMPLETE"
    assert_wired(stack, 3)
    lines = [line for line in heat_logs_since(logs_before).splitlines() if "unreachable" in line]
    print("outage through Heat:", *[line.strip().split("] ", 1)[-1][:300] for line in lines], sep="\n  ")
    assert any("waiting for it" in line for line in lines), "the outage was noticed"
    assert member_password() not in "".join(lines) and os.environ["BDE_PASSWORD"] not in "".join(lines)
    network_id = resource_id(stack, "network")
    cli("stack", "delete", "--yes", "--wait", stack)
    assert compute_ports(network_id) == []


def stored_engine_state(stack):
    """The packed engine state Heat last stored for the stack's cluster (resource data), or None."""
    rows = heat_query(
        # By the stack's name: the resource's physical id is set only once the cluster is its own.
        "SELECT d.value FROM resource_data d JOIN resource r ON d.resource_id = r.id "
        "JOIN stack s ON r.stack_id = s.id "
        "WHERE s.name = %s AND s.deleted_at IS NULL AND r.name = 'cluster' AND d.`key` = 'engine_state' "
        "ORDER BY r.id DESC",
        stack,
    )
    return rows[0][0] if rows and rows[0][0] else None


def engine_state(stack):
    """The engine state Heat last stored for the stack's cluster, unpacked, or {}."""
    # Stored packed (Heat's column is 64 KiB on MySQL): the engine unpacks it.
    packed = stored_engine_state(stack)
    return json.loads(_engine.readable_state(packed)) if packed else {}


def stack_status_in_db(stack):
    """The stack's status as Heat stored it ("GONE" once deleted): read in milliseconds, where
    `openstack stack show` takes a second or two, longer than some steps last."""
    rows = heat_query(
        "SELECT action, status FROM stack WHERE name = %s AND deleted_at IS NULL ORDER BY created_at DESC", stack
    )
    return f"{rows[0][0]}_{rows[0][1]}" if rows else "GONE"


def engines_working_on(stack):
    """The heat-engines (their world names, `heat-engine-N`) holding a lock on one of the
    stack's resources now, as Heat's database records it (resource.engine_id → service)."""
    rows = heat_query(
        "SELECT DISTINCT sv.host FROM resource r JOIN stack s ON r.stack_id = s.id "
        "JOIN service sv ON sv.engine_id = r.engine_id WHERE s.name = %s AND s.deleted_at IS NULL",
        stack,
    )
    return sorted(host.removeprefix("world-") for (host,) in rows)


def wired_vms(state):
    """VMs whose port was made (port ids are observed, not stored; the time is)."""
    return sum(1 for n in state.get("nodes", {}).values() if n.get("port_created_at"))


HEAT_BOUNDARIES = [
    ("spec checked", lambda s: s.get("phase") == "find_portgroup"),
    ("portgroup found", lambda s: s.get("phase") == "register_network"),
    ("BDE network registered", lambda s: s.get("phase") == "create_cluster" and not s.get("cluster")),
    (
        "about to ask for the cluster",
        lambda s: s.get("phase") == "create_cluster" and (s.get("cluster") or {}).get("how") == "intended",
    ),
    ("cluster asked for", lambda s: s.get("phase") == "wire" and wired_vms(s) == 0),
    ("first port made", lambda s: s.get("phase") == "wire" and wired_vms(s) >= 1),
]
HEAT_DELETE_BOUNDARIES = [
    (
        "delete asked for",
        lambda s: s.get("phase") == "delete_cluster" and (s.get("pending") or {}).get("kind") == "delete",
    ),
    ("BDE deleted the cluster", lambda s: s.get("phase") == "delete_ports"),
    ("ports removed", lambda s: s.get("phase") == "delete_network"),
]


def kill_heat_at_next(stack, boundaries, seconds=120):
    """SIGKILLs heat-engine as soon as the stored engine state shows one of `boundaries`, taken in
    order (a boundary the steps already passed is skipped, not waited for); returns its index, or
    None when the stack's action ended first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = engine_state(stack)
        for i, (_, reached) in enumerate(boundaries):
            if reached(state):
                restart_heat(stack)
                return i
        if not stack_status_in_db(stack).endswith("IN_PROGRESS"):
            return None
        time.sleep(0.05)
    raise AssertionError(f"{stack}: no boundary reached in {seconds} s")


@pytest.mark.kills_heat_engines
def test_heat_engine_killed_at_every_step_boundary_leaves_one_cluster_then_nothing(bde_api):
    """heat-engine SIGKILLed right after each step of the cluster's create and delete has been stored,
    each time taken over by a new `stack update` (or `stack delete`): no MAC ever has two ports,
    the one cluster ends wired, and the delete leaves nothing."""
    stack = f"bk{uuid.uuid4().hex[:6]}"
    cli("stack", "create", *example_args(stack), "--parameter", "workers=2", stack)
    wait_for_cluster_creating(stack)
    network_id = resource_id(stack, "network")
    killed = []
    remaining = list(HEAT_BOUNDARIES)
    while remaining:
        i = kill_heat_at_next(stack, remaining)
        if i is None:
            break
        name = remaining[i][0]
        killed.append(name)
        remaining = remaining[i + 1 :]
        macs = [p.mac_address for p in compute_ports(network_id)]
        assert len(macs) == len(set(macs)), f"two ports for one MAC after the kill at {name}: {macs}"
        cli("stack", "update", "--existing", stack)
    wait_for("the stack updated", lambda: not status(stack).endswith("IN_PROGRESS"), 600)
    if status(stack) != "UPDATE_COMPLETE":  # the last update may have started before the kill's lock cleared
        finish_by_update(stack)
    assert status(stack) == "UPDATE_COMPLETE"
    assert resource_id(stack, "cluster") == stack, "the same cluster, not a second one"
    assert_wired(stack, 3)
    for name, reached in HEAT_DELETE_BOUNDARIES:
        cli("stack", "delete", "--yes", stack, check=False)
        if kill_heat_at_next(stack, [(name, reached)]) is not None:
            killed.append(name)
    cli("stack", "delete", "--yes", stack, check=False)
    wait_for("the stack gone", lambda: gone(stack), 300)
    assert compute_ports(network_id) == []
    assert not bde_cluster_exists(bde_api, stack), "BDE's cluster is gone"
    print(f"heat boundary kills: {len(killed)} of {len(HEAT_BOUNDARIES) + len(HEAT_DELETE_BOUNDARIES)}: {killed}")
    assert len(killed) >= 6, killed


# ---------------------------------------------------------------- two engines, MariaDB


def engines_creating(stacks, logs_before):
    """Which engine logged `creating` each resource of the stacks since `logs_before` (Heat logs
    it at INFO in the engine that runs the resource's create): {(stack, resource): engine}."""
    found = {}
    logs = Path(os.environ["BDE_WORLD_LOGS"])
    for path in sorted(logs.glob("heat-engine-*.log")):
        engine = path.stem
        text = path.read_text(errors="replace")[logs_before.get(engine, 0) :]
        for line in text.splitlines():
            for stack in stacks:
                if "creating " in line and f'Stack "{stack}"' in line:
                    resource = line.split("creating ", 1)[1].split('"')[1]
                    found[(stack, resource)] = engine
    return found


def engine_log_sizes():
    logs = Path(os.environ["BDE_WORLD_LOGS"])
    return {path.stem: len(path.read_text(errors="replace")) for path in logs.glob("heat-engine-*.log")}


def test_several_stacks_at_once_are_spread_over_both_engines_and_each_vm_is_wired_once():
    """Four stacks created at once: Heat's RPC spreads their resources' checks over the two
    engines (its database records the engine holding each resource while it works, and each
    engine logs the creates it runs); every stack completes with each VM wired once."""
    stacks = [f"sp{i}{uuid.uuid4().hex[:5]}" for i in range(4)]
    before = engine_log_sizes()
    for i, stack in enumerate(stacks):
        args = [*example_args(stack), "--parameter", "workers=1", "--parameter", f"cidr=10.{90 + i}.0.0/24"]
        cli("stack", "create", *args, stack)
    seen = set()  # (stack, engine) while a resource of the stack is locked, from Heat's database
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        for stack in stacks:
            seen.update((stack, engine) for engine in engines_working_on(stack))
        if all(not stack_status_in_db(s).endswith("IN_PROGRESS") for s in stacks):
            break
        time.sleep(0.2)
    created = engines_creating(stacks, before)
    print("engines seen in Heat's database:", sorted(seen))
    print("creates per engine (logs):", {e: sum(1 for v in created.values() if v == e) for e in ENGINES})
    assert [status(s) for s in stacks] == ["CREATE_COMPLETE"] * 4
    assert {engine for _, engine in seen} <= set(ENGINES)
    assert set(created.values()) == set(ENGINES), f"both engines ran creates: {created}"
    assert len(created) == 3 * len(stacks), "each resource of each stack created once, on one engine"
    networks = []
    for stack in stacks:
        assert_wired(stack, 2)
        networks.append(resource_id(stack, "network"))
    for stack in stacks:
        cli("stack", "delete", "--yes", stack)
    wait_for("the stacks gone", lambda: all(stack_status_in_db(s) == "GONE" for s in stacks), 600)
    assert [compute_ports(n) for n in networks] == [[]] * len(networks)


@pytest.mark.kills_heat_engines
def test_the_engine_working_on_a_create_or_a_delete_dies_and_the_other_engine_finishes_it(bde_api):
    """The engine holding the cluster's lock is SIGKILLed mid-create and stays dead; under
    convergence nothing resumes its traversal, so (as Heat 27 allows) a `stack update` does: the
    other engine steals the dead engine's lock ("Worker went down") and finishes the same cluster,
    each VM wired once. The same for a delete, taken over by a second `stack delete`."""
    stack = f"ke{uuid.uuid4().hex[:6]}"
    killed = []
    try:
        cli("stack", "create", *example_args(stack), "--parameter", "workers=2", stack)
        wait_for_cluster_creating(stack)
        time.sleep(3)
        killed = kill_engine_working_on(stack, restart=False)
        assert len(killed) == 1, f"one engine held the cluster: {killed}"
        survivor = next(e for e in ENGINES if e not in killed)
        assert status(stack) == "CREATE_IN_PROGRESS", "nothing else takes a dead engine's traversal"
        finish_by_update(stack)
        assert status(stack) == "UPDATE_COMPLETE"
        assert resource_id(stack, "cluster") == stack, "the same cluster, finished, not a second one"
        assert_wired(stack, 3)
        reasons = [e["resource_status_reason"] for e in cli("stack", "event", "list", stack, "-f", "json")]
        assert any("Worker went down" in (r or "") for r in reasons), "the dead engine's lock was stolen"
        print(f"{stack}: create killed on {killed[0]}, finished by {survivor}")

        kill_engine(killed[0], restart=True)  # both engines again; now the delete's engine dies
        network_id = resource_id(stack, "network")
        cli("stack", "delete", "--yes", stack)
        wait_for("the delete at work", lambda: engines_working_on(stack), 60)
        killed = kill_engine_working_on(stack, restart=False)
        assert stack_status_in_db(stack) == "DELETE_IN_PROGRESS"
        cli("stack", "delete", "--yes", stack, check=False)
        wait_for("the stack gone", lambda: stack_status_in_db(stack) == "GONE", 300)
        assert compute_ports(network_id) == []
        assert not bde_cluster_exists(bde_api, stack), "BDE's cluster is gone"
        print(f"{stack}: delete killed on {killed[0]}, finished by the other engine")
    finally:
        for engine in killed:
            kill_engine(engine, restart=True)


def test_a_cluster_whose_plain_state_would_pass_mariadbs_64_kib_column_completes_and_deletes():
    """Heat keeps resource data in a MySQL TEXT column (64 KiB; strict mode refuses more). A
    cluster of 161 VMs has an engine state of more than 64 KiB as plain JSON; stored packed it
    fits, and the stack completes and deletes through Heat on MariaDB."""
    stack = f"big{uuid.uuid4().hex[:5]}"
    # 161 ports take Neutron here longer than a guest's DHCP window at the world's time scale: some
    # VMs are reset (after the world's scaled grace, [bde_heat] dhcp_grace_seconds).
    args = [*example_args(stack), "--parameter", "workers=160", "--parameter", "cidr=10.98.0.0/23"]
    cli("stack", "create", *args, stack)
    wait_for("the stack done", lambda: not stack_status_in_db(stack).endswith("IN_PROGRESS"), 900)
    assert status(stack) == "CREATE_COMPLETE", shown(stack)["stack_status_reason"]
    packed = stored_engine_state(stack)
    plain = _engine.readable_state(packed)
    print(f"{stack}: engine state {len(plain)} bytes as plain JSON, {len(packed)} stored")
    assert len(plain) > 65535, "the test's cluster is big enough to need the packing"
    assert len(packed.encode()) < 65535
    assert len(assert_wired(stack, 161)) == 161
    network_id = resource_id(stack, "network")
    cli("stack", "delete", "--yes", stack)
    wait_for("the stack gone", lambda: stack_status_in_db(stack) == "GONE", 600)
    assert compute_ports(network_id) == []
