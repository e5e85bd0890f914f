"""Keystone and Neutron of the test world, used as the member user would."""

import os
import re
import subprocess
import time
from pathlib import Path

import openstack
import pytest
from openstack import exceptions

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def member(world_env):
    conn = openstack.connect(cloud=world_env["OS_CLOUD"])
    yield conn
    conn.close()


@pytest.fixture()
def network(member):
    net = member.network.create_network(name=f"t-{os.getpid()}-{time.monotonic_ns()}")
    subnet = member.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.77.0.0/24")
    yield net, subnet
    for port in member.network.ports(network_id=net.id):
        member.network.delete_port(port)
    member.network.delete_network(net)


def test_the_member_token_is_scoped_to_the_bde_project_without_admin(member):
    access = member.session.auth.get_access(member.session)
    assert access.project_name == "bde"
    assert "member" in access.role_names
    assert "admin" not in access.role_names


def test_the_catalog_lists_neutron_on_loopback(member):
    url = member.session.get_endpoint(service_type="network", interface="public")
    assert re.match(r"http://127\.0\.0\.1:\d+/?$", url), url


def test_a_compute_port_is_created_and_found_by_mac(member, network):
    net, subnet = network
    port = member.network.create_port(
        network_id=net.id,
        mac_address="00:50:56:AA:BB:01",
        device_owner="compute:bde",
        device_id="4213c8f0-aaaa-bbbb-cccc-000000000001",
        name="c1-worker-0-port0",
        fixed_ips=[{"subnet_id": subnet.id}],
    )
    assert port.mac_address == "00:50:56:aa:bb:01", "Neutron normalises MACs to lower case"
    assert port.project_id == member.current_project_id
    found = list(member.network.ports(network_id=net.id, mac_address="00:50:56:aa:bb:01"))
    assert [p.id for p in found] == [port.id]
    assert found[0].device_owner == "compute:bde"
    ip = found[0].fixed_ips[0]["ip_address"]
    assert ip.startswith("10.77.0."), ip


def test_a_duplicate_mac_on_a_network_is_a_conflict(member, network):
    net, _ = network
    member.network.create_port(network_id=net.id, mac_address="00:50:56:aa:bb:02")
    with pytest.raises(exceptions.ConflictException):
        member.network.create_port(network_id=net.id, mac_address="00:50:56:aa:bb:02")


def test_a_request_without_a_token_is_refused(world_env):
    import requests

    resp = requests.get(world_env["BDE_WORLD_NEUTRON_URL"] + "/v2.0/ports", timeout=10)
    assert resp.status_code == 401


def world(*args):
    return subprocess.run(
        [str(ROOT / "scripts" / "world"), *args], check=True, capture_output=True, text=True, timeout=120
    ).stdout


def test_world_net_makes_a_network_a_dhcp_subnet_and_its_portgroup(member):
    out = dict(line.split("=", 1) for line in world("net", f"wn-{os.getpid()}", "10.78.0.0/24").split())
    net = member.network.get_network(out["NETWORK_ID"])
    subnet = member.network.get_subnet(out["SUBNET_ID"])
    assert subnet.network_id == net.id and subnet.is_dhcp_enabled and subnet.cidr == "10.78.0.0/24"
    assert net.project_id == member.current_project_id, "made as the member user"
    assert re.fullmatch(r"vxw-dvs-\d+-virtualwire-\d+-sid-\d+-" + re.escape(net.id), out["PORTGROUP"])
    world("net-delete", net.id)
    with pytest.raises(exceptions.NotFoundException):
        member.network.get_network(net.id)
