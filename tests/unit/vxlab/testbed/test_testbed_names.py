"""vxlab.testbed.names: the name rule, pnode names, subnet choice, paths (pure, no root)."""
import os
import sys

import pytest

from vxlab import testbed as tb

REPO = "/srv/vx"


def _inventory(name="ab", count=3, extra=None, subnet="10.250.7.0/24"):
    paths = tb.layout(name, REPO)
    return tb.render_inventory(name, tb.pnode_names(name, count), subnet, paths, extra), paths


@pytest.mark.parametrize("name", ["a", "ab", "t123a", "abcdefgh", "z9"])
def test_good_names(name):
    assert tb.check_name(name) == name


@pytest.mark.parametrize("name", ["", "A", "1a", "a-b", "abcdefghi", "a_b", "a b", None, 3, "../x"])
def test_bad_names_are_refused_naming_the_value(name):
    with pytest.raises(ValueError) as err:
        tb.check_name(name)
    assert repr(name) in str(err.value)


@pytest.mark.parametrize("count", [0, 251, -1, True, "3", 2.0])
def test_bad_pnode_counts(count):
    with pytest.raises(ValueError, match="pnodes"):
        tb.check_pnodes(count)


def test_pnode_names_fit_interface_names():
    nodes = tb.pnode_names("abcdefgh", 64)
    assert nodes[0] == {"index": 1, "name": "abcdefgh-p1", "netns": "vt-abcdefgh-p1",
                        "root_if": "vtabcdefghp1", "marker": "vxlab-vt-abcdefgh-p1"}
    assert nodes[-1]["root_if"] == "vtabcdefghp64"
    assert max(len(n["root_if"]) for n in nodes) <= 15
    assert len(tb.bridge_name("abcdefgh")) <= 15


def test_choose_subnet_skips_used_and_ignores_broad_networks():
    assert tb.choose_subnet([]) == "10.250.0.0/24"
    used = ["10.250.0.0/24", "10.250.1.7/32", "10.250.2.0/23", "0.0.0.0/0", "10.0.0.0/8",
            "192.0.2.0/24", "fe80::/64", "garbage"]
    assert tb.choose_subnet(used) == "10.250.4.0/24"
    # an address with a /16 inside the pool uses the whole pool
    with pytest.raises(tb.TestbedError, match="no free /24"):
        tb.choose_subnet(["10.250.0.254/16"])


def test_choose_subnet_full_pool():
    used = ["10.250.%d.0/24" % i for i in range(256)]
    with pytest.raises(tb.TestbedError):
        tb.choose_subnet(used)
    assert tb.choose_subnet(used[:-1]) == "10.250.255.0/24"


def test_addresses():
    assert tb.host_address("10.250.7.0/24", 1) == "10.250.7.1"
    assert tb.host_address("10.250.7.0/24", tb.CONTROL_HOST) == "10.250.7.254"


def test_control_path_fits_a_unix_socket_name_for_every_name():
    cp = tb.layout("abcdefgh", "/" + "x" * 200)["cp"]
    assert cp == "/var/lib/vxlab-testbeds/abcdefgh/cp"
    assert len(cp) + 1 + 40 + 17 <= 107


def test_private_files_are_outside_the_checkout_wherever_it_is():
    """sshd's StrictModes checks every directory above the keys: nothing it reads may be below the
    checkout (which may be below /tmp), only the inventory Ansible reads is there."""
    paths = tb.layout("ab", "/tmp/somewhere/vx")
    inside = {k for k, v in paths.items() if v.startswith("/tmp/")}
    assert inside - {"python"} == {"dir", "inventory", "group_vars"}
    for key in ("pnode_key", "vnode_key", "host_key", "authorized_keys", "state_dir", "cp",
                "known_hosts", "ssh_config", "state", "sshd_dir", "mnt_dir"):
        assert paths[key].startswith("/var/lib/vxlab-testbeds/ab/"), key
    assert tb.layout("ab", "/x", root="/run/t")["state"] == "/run/t/ab/testbed.json"


def test_python_is_the_checkouts_venv():
    assert tb.layout("ab", tb.vxlab.REPO)["python"] == os.path.join(tb.vxlab.REPO, ".venv", "bin",
                                                                    "python")


def test_layout_is_absolute_under_inventories():
    paths = tb.layout("ab", "/srv/vx/")
    assert paths["dir"] == "/srv/vx/inventories/ab"
    assert paths["inventory"] == "/srv/vx/inventories/ab/hosts.yml"
    assert paths["group_vars"] == "/srv/vx/inventories/ab/group_vars/pnodes.yml"
    assert paths["python"] in ("/srv/vx/.venv/bin/python", sys.executable)
    assert all(os.path.isabs(v) for v in paths.values())


def test_vnode_network_is_a_free_16_of_its_pool():
    from vxlab.testbed.names import VNODE_POOL, choose_subnet
    assert choose_subnet([], pool=VNODE_POOL, new_prefix=16) == "10.144.0.0/16"
    used = ["10.144.0.0/16", "10.145.3.0/24", "0.0.0.0/0", "10.0.0.0/8"]
    assert choose_subnet(used, pool=VNODE_POOL, new_prefix=16) == "10.146.0.0/16"
