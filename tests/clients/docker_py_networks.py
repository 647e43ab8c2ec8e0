"""docker-py 7.1's network calls against a Berth daemon, as docker-py's own integration suite
(tests/integration/api_network_test.py) makes them: IPAM pools, IPv6, labels, duplicates, connect with aliases,
an address or links, force disconnect, prune.

Run by tests/client_docker_py.rs with DOCKER_HOST set; any failed assertion exits non-zero.
"""
import os

import docker
from docker.types import IPAMConfig, IPAMPool
from expect import fails

api = docker.APIClient(base_url=os.environ["DOCKER_HOST"])


def run(name, network, **kwargs):
    container = api.create_container(
        "busybox", "top", name=name, host_config=api.create_host_config(network_mode=network), **kwargs
    )
    api.start(container)
    return container["Id"]


def sh(container, command):
    result = api.exec_create(container, ["sh", "-c", command])
    output = api.exec_start(result["Id"]).decode()
    return api.exec_inspect(result["Id"])["ExitCode"], output


# A pool with a range, a gateway and auxiliary addresses is kept as given; IPAM options stay null when none is sent.
pool = IPAMPool(
    subnet="192.168.213.0/24",
    iprange="192.168.213.128/25",
    gateway="192.168.213.254",
    aux_addresses={"a": "192.168.213.5", "b": "192.168.213.6"},
)
ipam_net = api.create_network("pyipam", ipam=IPAMConfig(driver="default", pool_configs=[pool]))["Id"]
ipam = api.inspect_network(ipam_net)["IPAM"]
assert ipam.pop("Options", None) is None, ipam
assert ipam == {
    "Driver": "default",
    "Config": [
        {
            "Subnet": "192.168.213.0/24",
            "IPRange": "192.168.213.128/25",
            "Gateway": "192.168.213.254",
            "AuxiliaryAddresses": {"a": "192.168.213.5", "b": "192.168.213.6"},
        }
    ],
}, ipam

# connect with an address, after a disconnect: honoured, and shown as IPAMConfig.
fixed = run("pyfixed", "pyipam")
api.disconnect_container_from_network(fixed, "pyipam")
api.connect_container_to_network(fixed, "pyipam", ipv4_address="192.168.213.140")
settings = api.inspect_container(fixed)["NetworkSettings"]["Networks"]["pyipam"]
assert settings["IPAMConfig"]["IPv4Address"] == "192.168.213.140", settings
assert settings["IPAddress"] == "192.168.213.140" and settings["Gateway"] == "192.168.213.254", settings
code, output = sh(fixed, "ip -4 -o addr show eth0")
assert code == 0 and "192.168.213.140/24" in output, output
# Outside the subnet: refused.
fails(api.connect_container_to_network, fixed, "pyipam", ipv4_address="10.1.2.3")

# An IPv6 network: its pool (range and gateway as given), and an address asked for at connect.
pool6 = IPAMPool(subnet="fd00:389::/64", iprange="fd00:389::/96", gateway="fd00:389::ffff")
v6 = api.create_network("pyv6", enable_ipv6=True, ipam=IPAMConfig(driver="default", pool_configs=[pool6]))["Id"]
inspected = api.inspect_network(v6)
assert inspected["EnableIPv6"] is True, inspected
assert {"Subnet": "fd00:389::/64", "IPRange": "fd00:389::/96", "Gateway": "fd00:389::ffff"} in inspected["IPAM"][
    "Config"
], inspected
six = run("pysix", "pyv6")
api.disconnect_container_from_network(six, "pyv6")
api.connect_container_to_network(six, "pyv6", ipv6_address="fd00:389::f00d")
settings = api.inspect_container(six)["NetworkSettings"]["Networks"]["pyv6"]
assert settings["IPAMConfig"]["IPv6Address"] == "fd00:389::f00d", settings
assert settings["GlobalIPv6Address"] == "fd00:389::f00d" and settings["IPv6Gateway"] == "fd00:389::ffff", settings

# Labels, internal, the host driver, duplicate names.
labelled = api.create_network("pylabels", labels={"com.docker.py.test": "label"}, internal=True)["Id"]
inspected = api.inspect_network(labelled)
assert inspected["Labels"] == {"com.docker.py.test": "label"} and inspected["Internal"] is True, inspected
assert fails(api.create_network, "pyhost", driver="host").status_code == 403
duplicate = fails(api.create_network, "pylabels", check_duplicate=True)
assert duplicate.status_code == 409 and "network with name pylabels already exists" in str(duplicate), duplicate

# connect twice, disconnect twice, force disconnect.
plain = api.create_network("pyplain")["Id"]
top = run("pytop", "bridge")
api.connect_container_to_network(top, plain, aliases=["foo", "bar"])
assert list(api.inspect_network(plain)["Containers"]) == [top]
aliases = api.inspect_container(top)["NetworkSettings"]["Networks"]["pyplain"]["Aliases"]
assert "foo" in aliases and "bar" in aliases, aliases
fails(api.connect_container_to_network, top, plain)
api.disconnect_container_from_network(top, plain, force=True)
assert not api.inspect_network(plain)["Containers"]
fails(api.disconnect_container_from_network, top, plain)
fails(api.disconnect_container_from_network, top, plain, force=True)

# Links on an endpoint (at connect and at create): shown in inspect, and the alias resolves once the linked
# container exists, from the linking container only.
linking = run("pylinking", "pyplain")
api.disconnect_container_from_network(linking, "pyplain")
api.connect_container_to_network(linking, "pyplain", links=[("pyupstream", "bar")])
assert api.inspect_container(linking)["NetworkSettings"]["Networks"]["pyplain"]["Links"] == ["pyupstream:bar"]
created = run(
    "pycreated",
    "pyplain",
    networking_config=api.create_networking_config(
        {"pyplain": api.create_endpoint_config(links=[("pyupstream", "baz")])}
    ),
)
assert api.inspect_container(created)["NetworkSettings"]["Networks"]["pyplain"]["Links"] == ["pyupstream:baz"]
upstream = run("pyupstream", "pyplain")
upstream_ip = api.inspect_container(upstream)["NetworkSettings"]["Networks"]["pyplain"]["IPAddress"]
code, output = sh(linking, "nslookup bar")
assert code == 0 and upstream_ip in output, output
code, output = sh(created, "nslookup baz")
assert code == 0 and upstream_ip in output, output
code, output = sh(upstream, "nslookup bar")
assert code != 0, "a link's alias is the linking container's alone: " + output

for container in (fixed, six, top, linking, created, upstream):
    api.remove_container(container, force=True)

# prune removes the unused networks, and names them.
deleted = api.prune_networks()["NetworksDeleted"]
assert sorted(deleted) == ["pyipam", "pylabels", "pyplain", "pyv6"], deleted
print("docker-py networks: ok")
