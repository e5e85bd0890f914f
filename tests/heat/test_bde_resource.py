"""`VirtualElephant::VMware::BDE` in the real Heat engine (in process), against the world.

The plugin is the installed wheel (`scripts/world up` builds and installs it),
loaded through Heat's own loader from `bde_heat.PLUGIN_DIR`; the stacks run as
the world's project member, so Heat's Neutron constraints, translation and the
plugin's Neutron calls all reach the real Neutron; BDE is the simulator and
vCenter is vcsim.
"""

import json
import os
import uuid

import bde_heat
import openstack
import pytest
import yaml
from bde_heat import _engine
from harness import heat_engine, member_context  # noqa: I001  (selects oslo.service's backend first)

pytestmark = pytest.mark.usefixtures("world_env")


def cloud():
    with open(os.environ["OS_CLIENT_CONFIG_FILE"]) as f:
        return yaml.safe_load(f)["clouds"][os.environ["OS_CLOUD"]]


def secrets():
    """Every password of this run that must never show."""
    values = [os.environ["BDE_PASSWORD"], os.environ["VCENTER_PASSWORD"], cloud()["auth"]["password"]]
    return [v for v in values if v]


@pytest.fixture()
def credentials_file(tmp_path):
    """The operator's credentials file, so templates carry no password."""
    path = tmp_path / "bde-credentials.yaml"
    entry = {
        "bde": [
            {
                "endpoint": os.environ["BDE_ENDPOINT"],
                "username": os.environ["BDE_USERNAME"],
                "password": os.environ["BDE_PASSWORD"],
                "ca_file": os.environ["BDE_CA_FILE"],
            }
        ],
        "vcenter": [
            {
                "endpoint": os.environ["VCENTER_URL"],
                "username": os.environ["VCENTER_USERNAME"],
                "password": os.environ["VCENTER_PASSWORD"],
                "ca_file": os.environ["VCENTER_CA_FILE"],
            }
        ],
    }
    path.write_text(yaml.safe_dump(entry))
    path.chmod(0o600)
    return str(path)


@pytest.fixture()
def engine(credentials_file):
    from oslo_config import cfg

    with heat_engine([bde_heat.PLUGIN_DIR], context=lambda: member_context(cloud()), sleep=True) as eng:
        cfg.CONF.set_override("credentials_file", credentials_file, group="bde_heat")
        yield eng
        cfg.CONF.clear_override("credentials_file", group="bde_heat")


@pytest.fixture()
def neutron():
    return openstack.connect(cloud=os.environ["OS_CLOUD"])


def unique(prefix):
    return f"{prefix}{uuid.uuid4().hex[:6]}"


def template(cluster, workers=2, cidr="10.77.0.0/24", subnet_extra="", cluster_extra=""):
    """A stack of a network, its subnet (`subnet_extra`: more of its properties) and a cluster
    on them (`cluster_extra`: more property lines)."""
    return f"""
heat_template_version: 2021-04-16
resources:
  net:
    type: OS::Neutron::Net
    properties: {{name: {cluster}-net}}
  subnet:
    type: OS::Neutron::Subnet
    properties: {{network: {{get_resource: net}}, cidr: {cidr}, name: {cluster}-subnet{subnet_extra}}}
  cluster:
    type: VirtualElephant::VMware::BDE
    properties:
      bde_endpoint: {os.environ["BDE_ENDPOINT"]}
      vcm_server: {os.environ["VCENTER_URL"]}
      cluster_name: {cluster}
      network: {{get_resource: net}}
      subnet: {{get_resource: subnet}}
{cluster_extra}      node_groups:
        - {{name: master, roles: [hadoop_namenode, hadoop_resourcemanager], instance_num: 1}}
        - {{name: worker, roles: [hadoop_datanode, hadoop_nodemanager], instance_num: {workers}}}
outputs:
  status: {{value: {{get_attr: [cluster, status]}}}}
  ips: {{value: {{get_attr: [cluster, ips]}}}}
  nodes: {{value: {{get_attr: [cluster, nodes]}}}}
  portgroup: {{value: {{get_attr: [cluster, portgroup]}}}}
  url: {{value: {{get_attr: [cluster, bde_cluster_url]}}}}
  task: {{value: {{get_attr: [cluster, task]}}}}
"""


def assert_wired(neutron, stk, outputs, count):
    """One compute:bde port per node, with the node's MAC and address, and no other port."""
    network_id = stk["net"].resource_id
    ports = [p for p in neutron.network.ports(network_id=network_id) if p.device_owner == "compute:bde"]
    nodes = outputs["nodes"]
    assert len(nodes) == count, nodes
    assert sorted(p.mac_address for p in ports) == sorted(n["mac"] for n in nodes)
    by_id = {p.id: p for p in ports}
    for n in nodes:
        port = by_id[n["port_id"]]
        assert port.fixed_ips[0]["ip_address"] == n["address"], n
    assert sorted(outputs["ips"]) == sorted(n["address"] for n in nodes)


def test_the_resource_type_keeps_the_2015_properties(engine):
    from heat.engine import resources

    cls = resources.global_env().get_class("VirtualElephant::VMware::BDE")
    legacy = {
        "bde_endpoint",
        "vcm_server",
        "username",
        "password",
        "cluster_name",
        "cluster_type",
        "network",
        "cluster_password",
        "cluster_rp",
        "vio_config",
        "bde_config",
        "security_group",
        "subnet",
    }
    assert legacy <= set(cls.properties_schema)
    assert cls.properties_schema["vio_config"].support_status.status == "DEPRECATED"
    assert cls.properties_schema["password"].default is None


def test_a_stack_lives_its_whole_life(engine, neutron, caplog):
    """Create, outputs, resize in place, suspend, resume, check, shrink, delete: every port right at each stage."""
    caplog.set_level("DEBUG")
    name = unique("heat")
    stk = engine.act(engine.stack(template(name)), "create")
    assert stk.state == (stk.CREATE, stk.COMPLETE), stk.status_reason
    out = engine.outputs(stk)
    assert out["status"] == "RUNNING"
    assert out["portgroup"].startswith("vxw-dvs-")
    assert out["url"].endswith(f"/serengeti/api/cluster/{name}")
    assert isinstance(out["task"], int)
    assert_wired(neutron, stk, out, 3)
    assert json.loads(stk["cluster"].data()["engine_state"])["resets"] == 0

    stk = engine.update(stk, template(name, workers=4))
    assert stk.state == (stk.UPDATE, stk.COMPLETE), stk.status_reason
    assert stk["cluster"].resource_id == name, "resized in place, not replaced"
    assert_wired(neutron, stk, engine.outputs(stk), 5)

    stk = engine.act(stk, "suspend")
    assert stk.state == (stk.SUSPEND, stk.COMPLETE), stk.status_reason
    assert engine.outputs(stk)["status"] == "STOPPED"
    stk = engine.act(stk, "resume")
    assert stk.state == (stk.RESUME, stk.COMPLETE), stk.status_reason
    out = engine.outputs(stk)
    assert out["status"] == "RUNNING"
    assert_wired(neutron, stk, out, 5)

    stk = engine.act(stk, "check")
    assert stk.state == (stk.CHECK, stk.COMPLETE), stk.status_reason

    stk = engine.update(stk, template(name, workers=1))
    assert stk.state == (stk.UPDATE, stk.COMPLETE), stk.status_reason
    out = engine.outputs(stk)
    assert_wired(neutron, stk, out, 2)

    stk = engine.load(stk)
    stored = _engine.readable_state(stk["cluster"].data()["engine_state"])  # nodes unpacked
    network_id = stk["net"].resource_id
    stk.delete()
    assert stk.state == (stk.DELETE, stk.COMPLETE), stk.status_reason
    assert list(neutron.network.ports(network_id=network_id)) == []
    assert neutron.network.find_network(network_id) is None, "the stack deleted its network"

    # Nothing secret in events, logs, resource data or outputs.
    events = " ".join(f"{e.resource_status_reason} {e.resource_properties_data}" for e in engine.events(stk))
    seen = events + caplog.text + json.dumps(out) + stored
    for secret in secrets():
        assert secret not in seen
    assert "gAAAAA" not in seen, "a Keystone (fernet) token"


def test_a_static_stack_gets_bdes_addresses_on_its_ports_and_no_guest_asks_for_dhcp(engine, neutron, bde_api):
    """ip_mode static through Heat: BDE gives each node an address of static_range (outside the
    subnet's pool), each node's port carries exactly that address, no guest sends a DHCP request
    and none is reset; an update that grows past the range and widens it grows the same cluster
    on the range's new addresses; delete leaves no port and no BDE network."""
    name = unique("static")

    def text(workers, static_range):
        return template(
            name,
            workers=workers,
            cidr="10.79.0.0/24",
            subnet_extra=", allocation_pools: [{start: 10.79.0.2, end: 10.79.0.99}]",
            cluster_extra=f"      ip_mode: static\n      static_range: {static_range}\n",
        )

    stk = engine.act(engine.stack(text(2, "10.79.0.200-10.79.0.202")), "create")
    assert stk.state == (stk.CREATE, stk.COMPLETE), stk.status_reason
    out = engine.outputs(stk)
    assert_wired(neutron, stk, out, 3)
    assert all(200 <= int(ip.rsplit(".", 1)[1]) <= 202 for ip in out["ips"]), out["ips"]
    assert json.loads(stk["cluster"].data()["engine_state"])["resets"] == 0
    bde, api = bde_api
    network_id = stk["net"].resource_id
    static_path = f"{api}/network/neutron-{network_id}-static"
    static_network = bde.get(static_path, timeout=30).json()
    assert static_network["dhcp"] is False, static_network
    timeline = bde.get(f"{os.environ['BDE_ENDPOINT']}/sim/timeline", timeout=30).json()["nodes"]
    guests = [g for g in timeline if g["cluster"] == name]
    assert len(guests) == 3
    assert all(g["timeline"]["dhcp_requests"] == 0 for g in guests), guests

    cluster_id = stk["cluster"].resource_id
    stk = engine.update(stk, text(3, "10.79.0.200-10.79.0.203"))
    assert stk.state == (stk.UPDATE, stk.COMPLETE), stk.status_reason
    assert stk["cluster"].resource_id == cluster_id, "the same cluster, grown in place"
    out = engine.outputs(stk)
    assert_wired(neutron, stk, out, 4)
    assert sorted(out["ips"]) == [f"10.79.0.{i}" for i in range(200, 204)], out["ips"]
    blocks = bde.get(static_path, timeout=30).json()["allIpBlocks"]
    assert blocks == [{"beginIp": "10.79.0.200", "endIp": "10.79.0.203"}], blocks

    stk.delete()
    assert stk.state == (stk.DELETE, stk.COMPLETE), stk.status_reason
    assert list(neutron.network.ports(network_id=network_id)) == []
    names = [n["name"] for n in bde.get(f"{api}/networks", timeout=30).json()]
    assert f"neutron-{network_id}-static" not in names


def two_groups(cluster, workers, clients):
    return f"""
heat_template_version: 2021-04-16
parameters:
  network: {{type: string}}
resources:
  cluster:
    type: VirtualElephant::VMware::BDE
    properties:
      bde_endpoint: {os.environ["BDE_ENDPOINT"]}
      vcm_server: {os.environ["VCENTER_URL"]}
      cluster_name: {cluster}
      network: {{get_param: network}}
      node_groups:
        - {{name: master, roles: [hadoop_namenode], instance_num: 1}}
        - {{name: worker, roles: [hadoop_datanode], instance_num: {workers}}}
        - {{name: client, roles: [hadoop_client], instance_num: {clients}}}
"""


def test_one_update_resizes_two_groups_one_after_the_other(engine, neutron):
    net = neutron.network.create_network(name=unique("two"))
    neutron.network.create_subnet(network_id=net.id, cidr="10.78.0.0/24", ip_version=4)
    name = unique("two")
    params = {"parameters": {"network": net.id}}
    stk = engine.stack(two_groups(name, 1, 1), params)
    try:
        stk = engine.act(stk, "create")
        assert stk.state == (stk.CREATE, stk.COMPLETE), stk.status_reason
        stk = engine.update(stk, two_groups(name, 3, 2), params)
        assert stk.state == (stk.UPDATE, stk.COMPLETE), stk.status_reason
        nodes = stk["cluster"].FnGetAtt("nodes")
        assert sorted(n["group"] for n in nodes) == ["client", "client", "master", "worker", "worker", "worker"]
        ports = [p for p in neutron.network.ports(network_id=net.id) if p.device_owner == "compute:bde"]
        assert sorted(p.mac_address for p in ports) == sorted(n["mac"] for n in nodes)
    finally:
        stk = engine.load(stk)
        stk.delete()
    assert stk.state == (stk.DELETE, stk.COMPLETE), stk.status_reason
    assert list(neutron.network.ports(network_id=net.id)) == []
    neutron.network.delete_network(net.id)


def test_a_stack_whose_cluster_name_is_taken_fails_and_its_delete_leaves_the_other_cluster(engine, neutron, bde_api):
    """Stack B names stack A's cluster: B's create fails saying so, B gets no physical id,
    and deleting B leaves A's cluster, its ports and its BDE network untouched."""
    session, api = bde_api
    net = neutron.network.create_network(name=unique("own"))
    neutron.network.create_subnet(network_id=net.id, cidr="10.79.0.0/24", ip_version=4)
    name = unique("own")
    params = {"parameters": {"network": net.id}}
    first = engine.stack(two_groups(name, 1, 1), params)
    second = None
    try:
        first = engine.act(first, "create")
        assert first.state == (first.CREATE, first.COMPLETE), first.status_reason
        ports_before = sorted(p.id for p in neutron.network.ports(network_id=net.id))
        assert len(ports_before) == 3

        second = engine.act(engine.stack(two_groups(name, 1, 1), params), "create")
        assert second.state == (second.CREATE, second.FAILED)
        assert "did not create" in second.status_reason, second.status_reason
        assert second["cluster"].resource_id is None, "no physical id for a cluster it does not own"

        second = engine.load(second)
        second.delete()
        assert second.state == (second.DELETE, second.COMPLETE), second.status_reason
        assert session.get(f"{api}/cluster/{name}", timeout=30).status_code == 200, "A's cluster is still there"
        assert sorted(p.id for p in neutron.network.ports(network_id=net.id)) == ports_before
        assert session.get(f"{api}/network/neutron-{net.id}", timeout=30).status_code == 200
        first = engine.load(first)
        assert first["cluster"].FnGetAtt("status") == "RUNNING"
    finally:
        first = engine.load(first)
        first.delete()
    assert first.state == (first.DELETE, first.COMPLETE), first.status_reason
    assert session.get(f"{api}/cluster/{name}", timeout=30).status_code == 404
    assert list(neutron.network.ports(network_id=net.id)) == []
    neutron.network.delete_network(net.id)


def unnamed(extra=""):
    """One small cluster with no cluster_name (the name is made from the stack's)."""
    return f"""
heat_template_version: 2021-04-16
parameters:
  network: {{type: string}}
resources:
  cluster:
    type: VirtualElephant::VMware::BDE
    properties:
      bde_endpoint: {os.environ["BDE_ENDPOINT"]}
      vcm_server: {os.environ["VCENTER_URL"]}
      network: {{get_param: network}}
      node_groups:
        - {{name: worker, roles: [hadoop_namenode, hadoop_datanode], instance_num: 1}}{extra}
"""


def test_two_stacks_from_one_template_without_a_cluster_name_both_complete(engine, neutron, bde_api):
    """Each stack's cluster is named after the stack (BDE's letters), so one template makes many;
    the second uses the 2015 plugin's cluster_net for its network."""
    session, api = bde_api
    net = neutron.network.create_network(name=unique("anon"))
    neutron.network.create_subnet(network_id=net.id, cidr="10.81.0.0/24", ip_version=4)
    params = {"parameters": {"network": net.id}}
    legacy = unnamed().replace("network: {get_param: network}", "cluster_net: {get_param: network}")
    stacks = [engine.stack(unnamed(), params), engine.stack(legacy, params)]
    try:
        stacks = [engine.act(stk, "create") for stk in stacks]
        for stk in stacks:
            assert stk.state == (stk.CREATE, stk.COMPLETE), stk.status_reason
        names = [stk["cluster"].resource_id for stk in stacks]
        assert names[0] != names[1], names
        for name in names:
            assert name and all(c.isalnum() or c == "_" for c in name), name
            assert session.get(f"{api}/cluster/{name}", timeout=30).json()["status"] == "RUNNING"
        ports = [p for p in neutron.network.ports(network_id=net.id) if p.device_owner == "compute:bde"]
        assert len(ports) == 2, "one port per VM of each cluster"
        groups = stacks[0]["cluster"].FnGetAtt("groups")
        assert groups["worker"]["port_ids"][0] in {p.id for p in ports}, groups
        assert groups["worker"]["addresses"][0], groups
        assert stacks[0]["cluster"].FnGetAtt("status_reason") == "create done"
        node = stacks[0]["cluster"].FnGetAtt("nodes")[0]
        timeline = node["timeline"]
        assert timeline["cloned"] <= timeline["powered_on"] and timeline["port_created"] and timeline["address_seen"]
    finally:
        for stk in stacks:
            stk = engine.load(stk)
            stk.delete()
            assert stk.state == (stk.DELETE, stk.COMPLETE), stk.status_reason
    assert list(neutron.network.ports(network_id=net.id)) == []
    neutron.network.delete_network(net.id)


def test_credentials_and_tunables_change_in_place(engine, neutron):
    """dhcp_grace_seconds, max_resets and the BDE password (given in the template now) change:
    UPDATE_COMPLETE, the same physical id, the same VMs and ports."""
    net = neutron.network.create_network(name=unique("tune"))
    neutron.network.create_subnet(network_id=net.id, cidr="10.82.0.0/24", ip_version=4)
    params = {"parameters": {"network": net.id}}
    stk = engine.stack(unnamed(), params)
    try:
        stk = engine.act(stk, "create")
        assert stk.state == (stk.CREATE, stk.COMPLETE), stk.status_reason
        before = (stk["cluster"].resource_id, stk["cluster"].FnGetAtt("nodes"))
        changed = unnamed(
            f"\n      dhcp_grace_seconds: 150\n      max_resets: 2"
            f"\n      username: {os.environ['BDE_USERNAME']}\n      password: {os.environ['BDE_PASSWORD']}"
            f"\n      ca_file: {os.environ['BDE_CA_FILE']}"
        )
        stk = engine.update(stk, changed, params)
        assert stk.state == (stk.UPDATE, stk.COMPLETE), stk.status_reason
        after = (stk["cluster"].resource_id, stk["cluster"].FnGetAtt("nodes"))
        assert after == before, "the same cluster, VMs, MACs, addresses and ports"
    finally:
        stk = engine.load(stk)
        stk.delete()
    assert stk.state == (stk.DELETE, stk.COMPLETE), stk.status_reason
    assert list(neutron.network.ports(network_id=net.id)) == []
    neutron.network.delete_network(net.id)


def test_stack_adopt_takes_over_a_cluster_on_its_network_and_wires_it(engine, neutron, bde_api):
    """`stack adopt` of a cluster another stack made: ADOPT_COMPLETE, the cluster's VMs with their
    ports; deleting the adopting stack removes the cluster it adopted."""
    from heat.engine import stack as heat_stack

    session, api = bde_api
    net = neutron.network.create_network(name=unique("adopt"))
    neutron.network.create_subnet(network_id=net.id, cidr="10.83.0.0/24", ip_version=4)
    name = unique("adopt")
    params = {"parameters": {"network": net.id}}
    first = engine.act(engine.stack(two_groups(name, 1, 1), params), "create")
    assert first.state == (first.CREATE, first.COMPLETE), first.status_reason
    data = {"resources": {"cluster": {"resource_id": name, "resource_data": {}}}}
    second = heat_stack.Stack(
        engine.context, unique("adopted"), engine.template(two_groups(name, 1, 1), params), adopt_stack_data=data
    )
    second.store()
    second.adopt()
    second._persist_state()
    try:
        assert second.state == (second.ADOPT, second.COMPLETE), second.status_reason
        second = engine.load(second)
        assert second["cluster"].resource_id == name
        nodes = second["cluster"].FnGetAtt("nodes")
        ports = {p.id for p in neutron.network.ports(network_id=net.id)}
        assert len(nodes) == 3 and all(n["port_id"] in ports and n["address"] for n in nodes), nodes
    finally:
        second = engine.load(second)
        second.delete()
        assert second.state == (second.DELETE, second.COMPLETE), second.status_reason
        assert session.get(f"{api}/cluster/{name}", timeout=30).status_code == 404, "the adopted cluster went"
        first = engine.load(first)
        first.delete()
        assert first.state == (first.DELETE, first.COMPLETE), first.status_reason
    assert list(neutron.network.ports(network_id=net.id)) == []
    neutron.network.delete_network(net.id)


def test_what_bde_cannot_change_is_refused_naming_the_property_and_nothing_is_touched(engine, neutron):
    """A distro change on a cluster the template names: the update fails naming `distro`
    before any step; the cluster, its VMs and ports are as they were."""
    net = neutron.network.create_network(name=unique("fixed"))
    neutron.network.create_subnet(network_id=net.id, cidr="10.84.0.0/24", ip_version=4)
    name = unique("fixed")
    params = {"parameters": {"network": net.id}}
    stk = engine.act(engine.stack(two_groups(name, 1, 1), params), "create")
    try:
        assert stk.state == (stk.CREATE, stk.COMPLETE), stk.status_reason
        before = stk["cluster"].FnGetAtt("nodes")
        ports = sorted(p.id for p in neutron.network.ports(network_id=net.id))
        changed = two_groups(name, 1, 1).replace("cluster_name:", "distro: mesos\n      cluster_name:")
        stk = engine.update(stk, changed, params)
        assert stk.state == (stk.UPDATE, stk.FAILED)
        assert "property distro" in stk.status_reason, stk.status_reason
        stk = engine.load(stk)
        assert stk["cluster"].resource_id == name
        assert stk["cluster"].FnGetAtt("nodes") == before
        assert sorted(p.id for p in neutron.network.ports(network_id=net.id)) == ports
    finally:
        stk = engine.load(stk)
        stk.delete()
    assert stk.state == (stk.DELETE, stk.COMPLETE), stk.status_reason
    neutron.network.delete_network(net.id)


@pytest.mark.takes_the_world_away
def test_an_update_that_changes_nothing_here_completes_while_bde_is_down(engine, neutron):
    """No false "needs update": BDE's API down during a stack update that leaves this
    resource's properties alone; the update completes and the cluster is untouched."""
    import subprocess
    import threading
    import time

    net = neutron.network.create_network(name=unique("down"))
    neutron.network.create_subnet(network_id=net.id, cidr="10.85.0.0/24", ip_version=4)
    params = {"parameters": {"network": net.id}}
    stk = engine.act(engine.stack(unnamed(), params), "create")
    try:
        assert stk.state == (stk.CREATE, stk.COMPLETE), stk.status_reason
        world = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "world")
        outage = threading.Thread(target=subprocess.run, args=([world, "outage", "bde", "25"],), kwargs={"check": True})
        outage.start()
        time.sleep(2)
        stk = engine.update(stk, unnamed(), params)
        assert stk.state == (stk.UPDATE, stk.COMPLETE), stk.status_reason
        outage.join()
        stk = engine.load(stk)
        assert stk["cluster"].FnGetAtt("status") == "RUNNING"
    finally:
        stk = engine.load(stk)
        stk.delete()
    assert stk.state == (stk.DELETE, stk.COMPLETE), stk.status_reason
    neutron.network.delete_network(net.id)


def test_a_new_security_group_goes_on_every_port_in_place(engine, neutron):
    """security_group changed in the template: UPDATE_COMPLETE, the same VMs and ports,
    every port now in the new group."""
    net = neutron.network.create_network(name=unique("sg"))
    neutron.network.create_subnet(network_id=net.id, cidr="10.86.0.0/24", ip_version=4)
    groups = [neutron.network.create_security_group(name=unique("sg")) for _ in range(2)]
    params = {"parameters": {"network": net.id}}
    with_group = lambda sg: unnamed(f"\n      security_group: {sg.id}")  # noqa: E731
    stk = engine.act(engine.stack(with_group(groups[0]), params), "create")
    try:
        assert stk.state == (stk.CREATE, stk.COMPLETE), stk.status_reason
        before = stk["cluster"].FnGetAtt("nodes")
        ports = [p for p in neutron.network.ports(network_id=net.id) if p.device_owner == "compute:bde"]
        assert ports and all(p.security_group_ids == [groups[0].id] for p in ports)
        stk = engine.update(stk, with_group(groups[1]), params)
        assert stk.state == (stk.UPDATE, stk.COMPLETE), stk.status_reason
        assert stk["cluster"].FnGetAtt("nodes") == before, "the same VMs, MACs and ports"
        ports = [p for p in neutron.network.ports(network_id=net.id) if p.device_owner == "compute:bde"]
        assert ports and all(p.security_group_ids == [groups[1].id] for p in ports), ports
    finally:
        stk = engine.load(stk)
        stk.delete()
    assert stk.state == (stk.DELETE, stk.COMPLETE), stk.status_reason
    neutron.network.delete_network(net.id)
    for sg in groups:
        neutron.network.delete_security_group(sg)


BAD = [
    ("cluster_name: my-cluster", "cluster_name"),
    ("cluster_name: a;reboot", "cluster_name"),
    ("bde_endpoint: http://bde.example.com:8443", "bde_endpoint"),
    ("bde_endpoint: https://user:pw@bde.example.com:8443", "bde_endpoint"),
    ("vcm_server: ftp://vc.example.com", "vcm_server"),
    ("network: no-such-network-anywhere", "network"),
    ("subnet: no-such-subnet-anywhere", "subnet"),
    ("device_owner: network:dhcp", "device_owner"),
    ("ca_file: /nonexistent/ca.pem", "ca_file"),
    ("max_resets: -1", "max_resets"),
    ("dhcp_grace_seconds: 0", "dhcp_grace_seconds"),
    ("node_groups: [{name: a_b, roles: [x], instance_num: 1}]", "node_groups[0].name"),
    ("node_groups: [{name: w, roles: [], instance_num: 1}]", "node_groups[0].roles"),
    ("node_groups: [{name: w, roles: [x], instance_num: 0}]", "instance_num"),
    ("node_groups: [{name: w, roles: [x], instance_num: 1, instance_type: HUGE}]", "instance_type"),
    ("node_groups: [{name: w, roles: [x], instance_num: 1, memory_mb: 512}]", "node_groups[0].memory_mb"),
    ("node_groups: [{name: w, roles: [hadoop_namenode], instance_num: 3}]", "node_groups[0].instance_num"),
    ("node_groups: [{name: w, roles: [hadoop_namenode], instance_num: 2}]", "NameNode HA"),
    ("cluster_type: '$(reboot)'", "cluster_type"),
    ("cluster_rp: ../../etc", "cluster_rp"),
    ("no_such_property: 1", "no_such_property"),
    ("cluster_name: ../../etc/passwd", "cluster_name"),
    ("cluster_name: 'a b'", "cluster_name"),
    ("cluster_name: 'ü'", "cluster_name"),
    ("cluster_name: '`id`'", "cluster_name"),
    ("cluster_name: " + "x" * 60, "cluster_name"),
    ("bde_endpoint: bde.example.com:8443", "bde_endpoint"),
    ("bde_endpoint: 'https://'", "bde_endpoint"),
    ("bde_endpoint: https://bde.example.com:99999", "bde_endpoint"),
    ("bde_endpoint: ftp://bde.example.com", "bde_endpoint"),
    ("vcm_server: http://vc.example.com/sdk", "vcm_server"),
    ("vcm_server: https://root:pw@vc.example.com/sdk", "vcm_server"),
    ("vcm_server: 'vc:notaport'", "vcm_server"),
    ('username: "admin\\nX-Injected: 1"', "username"),
    ("distro: 'bigtop;reboot'", "distro"),
    ("cluster_rp: 'a b'", "cluster_rp"),
    ("vcenter_ca_file: /nonexistent/vc-ca.pem", "vcenter_ca_file"),
    ("node_groups: [{name: w, roles: [x], instance_num: 501}]", "instance_num"),
    ("node_groups: [{name: w, roles: [x], instance_num: 1, cpu_num: 0}]", "node_groups[0].cpu_num"),
    (
        "node_groups: [{name: w, roles: [x], instance_num: 1}, {name: w, roles: [y], instance_num: 1}]",
        "node_groups[1].name",
    ),
    ("node_groups: [{name: " + "w" * 81 + ", roles: [x], instance_num: 1}]", "node_groups[0].name"),
    ("node_groups: [{roles: [x], instance_num: 1}]", "name"),
    ("device_owner: ''", "device_owner"),
    ("dns_type: FANCY", "dns_type"),
    ("external_hdfs: 'http://nn.example:8020'", "external_hdfs"),
    ("cluster_password: password", "cluster_password"),
    ("networks: {MGT_NETWORK: {network: other}}", "networks"),
    ("networks: {HDFS_NETWORK: {network: ''}}", "networks.HDFS_NETWORK.network"),
    ("cluster_spec: '{\"networkConfig\": {}}'", "cluster_spec.networkConfig"),
    (
        'cluster_spec: \'{"nodeGroups": [{"name": "w", "roles": ["x"], "instanceNumber": 1}]}\'',
        "cluster_spec.nodeGroups[0].instanceNumber",
    ),
    ("cluster_spec: 'not json'", "cluster_spec"),
    # What BDE does not offer, read from the world's BDE at validate.
    ("distro: nosuch", "distro"),
    ("app_manager: Ambari", "app_manager"),
    ("resource_pools: [nosuch_rp]", "resource_pools"),
    ("datastores: [nosuch_ds]", "datastores"),
    # No distro: BDE's default one (vendor BIGTOP) has no Mesos roles.
    (
        "node_groups: [{name: w, roles: [hadoop_namenode, hadoop_datanode, mesos_slave], instance_num: 1}]",
        "node_groups[0].roles",
    ),
    # Hosts the operator's credentials file does not name ([bde_heat] allowed_endpoints' default).
    ("bde_endpoint: https://bde.elsewhere.example:8443", "bde_endpoint"),
    ("vcm_server: vc.elsewhere.example", "vcm_server"),
]


@pytest.mark.parametrize(("line", "field"), BAD, ids=[b[1] + ":" + b[0][:24] for b in BAD])
def test_bad_properties_are_refused_at_validate_naming_the_property(engine, line, field):
    from heat.common import exception

    key = line.split(":")[0]
    props = {
        "bde_endpoint": os.environ["BDE_ENDPOINT"],
        "vcm_server": os.environ["VCENTER_URL"],
        "cluster_name": "valid_name",
        "network": "{get_resource: net}",
    }
    props.pop(key, None)
    body = "\n".join(f"      {k}: {v}" for k, v in props.items()) + f"\n      {line}"
    text = f"""
heat_template_version: 2021-04-16
resources:
  net:
    type: OS::Neutron::Net
  cluster:
    type: VirtualElephant::VMware::BDE
    properties:
{body}
"""
    with pytest.raises(exception.StackValidationFailed) as failure:
        engine.stack(text)
    assert field in str(failure.value)


def test_neutron_mistakes_are_refused_at_validate_and_nothing_is_made(engine, neutron, bde_api):
    """A subnet of another network, an unknown security group, or a subnet with too few free
    addresses, among existing Neutron resources: validate names the property; no BDE network,
    cluster or port appears."""
    from heat.common import exception

    name = unique("v")
    nets = [neutron.network.create_network(name=f"{name}-{i}") for i in range(3)]
    # The third is a /29: five addresses in its allocation pool.
    subnets = [
        neutron.network.create_subnet(
            network_id=n.id, cidr=f"10.78.{i}.0/{29 if i == 2 else 24}", ip_version=4, name=f"{name}-{i}"
        )
        for i, n in enumerate(nets)
    ]
    try:

        def stack_with(extra, network=nets[0].id, workers=0):
            return f"""
heat_template_version: 2021-04-16
resources:
  cluster:
    type: VirtualElephant::VMware::BDE
    properties:
      bde_endpoint: {os.environ["BDE_ENDPOINT"]}
      vcm_server: {os.environ["VCENTER_URL"]}
      cluster_name: {name}
      network: {network}
      node_groups:
        - {{name: worker, roles: [hadoop_namenode, hadoop_datanode], instance_num: 1}}
{f"        - {{name: more, roles: [hadoop_datanode], instance_num: {workers}}}" if workers else ""}
{extra}
"""

        with pytest.raises(exception.StackValidationFailed) as failure:
            engine.stack(stack_with(f"      subnet: {subnets[1].id}"))
        assert "Property subnet" in str(failure.value) and "belongs to another network" in str(failure.value)

        with pytest.raises(exception.StackValidationFailed) as failure:
            engine.stack(stack_with(f"      subnet: {subnets[0].id}\n      security_group: no-such-group-{name}"))
        assert "Property security_group" in str(failure.value)

        with pytest.raises(exception.StackValidationFailed) as failure:
            engine.stack(stack_with("", network=nets[2].id, workers=5))
        assert "Property network" in str(failure.value) and "5 free addresses" in str(failure.value), failure.value

        # The right pair passes (by name, as the 2015 templates gave them).
        engine.stack(stack_with(f"      subnet: {subnets[0].name}"))

        for n in nets:
            assert not [p for p in neutron.network.ports(network_id=n.id) if p.device_owner.startswith("compute")]
        bde, api = bde_api
        assert bde.get(f"{api}/cluster/{name}", timeout=30).status_code == 404
        networks = bde.get(f"{api}/networks", timeout=30).json()
        assert f"neutron-{nets[0].id}" not in [n["name"] for n in networks]
    finally:
        for n in nets:
            neutron.network.delete_network(n.id)
