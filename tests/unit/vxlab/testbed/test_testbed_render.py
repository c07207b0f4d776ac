"""vxlab.testbed.render: inventory, sshd and ssh configuration, start-up script, batches, the login and its diagnosis (pure, no root)."""
import os
import subprocess

import pytest
import yaml

from ansible_collections.vxlab.emulation.plugins.module_utils._plan import PlanError
from vxlab import testbed as tb

REPO = "/srv/vx"


def _inventory(name="ab", count=3, extra=None, subnet="10.250.7.0/24"):
    paths = tb.layout(name, REPO)
    return tb.render_inventory(name, tb.pnode_names(name, count), subnet, paths, extra), paths


def test_render_inventory_hosts_and_group_vars():
    (hosts_doc, group_vars), paths = _inventory()
    hosts = hosts_doc["all"]["children"]["pnodes"]["hosts"]
    assert list(hosts) == ["ab-p1", "ab-p2", "ab-p3"]
    h = hosts["ab-p2"]
    assert h["ansible_host"] == h["vxlab_underlay_address"] == "10.250.7.2"
    assert h["vxlab_pnode_index"] == 1
    assert h["ansible_user"] == "root"
    assert h["ansible_ssh_private_key_file"] == "/var/lib/vxlab-testbeds/ab/keys/pnodes_ed25519"
    assert h["ansible_python_interpreter"] == paths["python"]
    args = h["ansible_ssh_common_args"]
    for opt in ("StrictHostKeyChecking=no", "UserKnownHostsFile=/var/lib/vxlab-testbeds/ab/known_hosts",
                "ControlMaster=auto", "ControlPersist=60s",
                "ControlPath=/var/lib/vxlab-testbeds/ab/cp/%C"):
        assert "-o " + opt in args
    assert group_vars == {
        "vxlab_testbed": "ab",
        "vxlab_platform": "ab",
        "vxlab_underlay_network": "10.250.7.0/24",
        "vxlab_state_dir": "/var/lib/vxlab-testbeds/ab/state",
        "vxlab_ssh_key": "/var/lib/vxlab-testbeds/ab/keys/vnodes_ed25519",
        "vxlab_control_access": "route",
    }


def test_extra_vars_are_added_and_win():
    (hosts_doc, group_vars), paths = _inventory(extra={"vxlab_platform": "demo", "vxlab_vni": 7,
                                                       "my_var": [1, 2]})
    assert group_vars["vxlab_platform"] == "demo"
    assert group_vars["vxlab_vni"] == 7
    assert group_vars["my_var"] == [1, 2]
    spec = tb.validate_inventory(hosts_doc, group_vars)
    assert spec.platform == "demo" and spec.vni == 7


@pytest.mark.parametrize("extra, word", [
    ({"vxlab_underlay_address": "10.250.7.9"}, "vxlab_underlay_address"),
    ({"vxlab_pnode_index": 3}, "vxlab_pnode_index"),
    ({"vxlab_testbed": "other"}, "vxlab_testbed"),
    ({"bad-name": 1}, "bad-name"),
    ("vxlab_vni=3", "mapping"),
    ({"x": object()}, "YAML"),
])
def test_bad_extra_vars_are_refused(extra, word):
    with pytest.raises(ValueError, match=word):
        _inventory(extra=extra)


def test_validate_inventory_accepts_the_default_testbed():
    (hosts_doc, group_vars), paths = _inventory(count=10)
    spec = tb.validate_inventory(hosts_doc, group_vars)
    assert spec.platform == "ab"
    assert [p.vtep for p in spec.pnodes][:2] == ["10.250.7.1", "10.250.7.2"]
    assert spec.control_access == "route"
    assert spec.state_dir == "/var/lib/vxlab-testbeds/ab/state"


@pytest.mark.parametrize("extra, word", [
    ({"vxlab_vni": 0}, "vxlab_vni=0"),
    ({"vxlab_vnode_network": "10.250.0.0/16"}, "vxlab_vnode_network"),
    ({"vxlab_vnis": 3}, "vxlab_vnis"),
    ({"vxlab_underlay_network": "10.1.0.0/24"}, "vxlab_underlay_address"),
])
def test_validate_inventory_names_the_bad_variable(extra, word):
    (hosts_doc, group_vars), paths = _inventory(extra=extra)
    with pytest.raises(PlanError) as err:
        tb.validate_inventory(hosts_doc, group_vars)
    assert word in str(err.value)


@pytest.mark.parametrize("extra, word", [
    ({"vxlab_underlay_interface": "eth1"}, "vxlab_underlay_interface='eth1'"),
    ({"vxlab_mtu": 1500}, "vxlab_mtu=1500"),
])
def test_validate_inventory_refuses_what_the_testbed_cannot_carry(extra, word):
    (hosts_doc, group_vars), paths = _inventory(extra=extra)
    with pytest.raises(ValueError) as err:
        tb.validate_inventory(hosts_doc, group_vars)
    assert word in str(err.value)
    extra = {"vxlab_mtu": 1450}
    tb.validate_inventory(*_inventory(extra=extra)[0])


def test_inventory_reads_back_through_ansible(tmp_path):
    """The written files are a valid Ansible inventory with the group variables applied."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.manager import VariableManager

    paths = tb.layout("ab", str(tmp_path))
    hosts_doc, group_vars = tb.render_inventory("ab", tb.pnode_names("ab", 2), "10.250.7.0/24",
                                                paths, {"vxlab_vni": 9})
    os.makedirs(os.path.dirname(paths["group_vars"]))
    with open(paths["inventory"], "w") as f:
        yaml.safe_dump(hosts_doc, f)
    with open(paths["group_vars"], "w") as f:
        yaml.safe_dump(group_vars, f)
    loader = DataLoader()
    inv = InventoryManager(loader=loader, sources=[paths["inventory"]])
    vm = VariableManager(loader=loader, inventory=inv)
    assert [h.name for h in inv.groups["pnodes"].get_hosts()] == ["ab-p1", "ab-p2"]
    hv = vm.get_vars(host=inv.get_host("ab-p2"))
    assert hv["ansible_host"] == "10.250.7.2"
    assert hv["vxlab_vni"] == 9 and hv["vxlab_testbed"] == "ab"


def test_sshd_config():
    paths = tb.layout("ab", REPO)
    text = tb.render_sshd_config("10.250.7.3", paths, "/var/lib/vxlab-testbeds/ab/sshd/p3.pid")
    lines = set(text.splitlines())
    for line in ("ListenAddress 10.250.7.3", "PasswordAuthentication no",
                 "KbdInteractiveAuthentication no", "UsePAM no",
                 "PermitRootLogin prohibit-password",
                 "AuthorizedKeysFile /var/lib/vxlab-testbeds/ab/keys/authorized_keys",
                 "MaxStartups 100:30:200", "MaxSessions 100",
                 "PidFile /var/lib/vxlab-testbeds/ab/sshd/p3.pid",
                 "HostKey /var/lib/vxlab-testbeds/ab/keys/ssh_host_ed25519_key",
                 "LogLevel VERBOSE"):
        assert line in lines


def test_login_argv_is_ansibles_connection_without_sharing():
    paths = tb.layout("ab", REPO)
    argv = tb.login_argv(paths, "10.250.7.2")
    assert argv[:3] == ["ssh", "-F", "/dev/null"]
    assert argv[-4:] == ["-l", "root", "10.250.7.2", "true"]
    assert argv[argv.index("-i") + 1] == paths["pnode_key"]
    # ssh keeps the first value of an option: no master is left behind by the check
    assert argv.index("ControlPath=none") < argv.index("ControlPath=%s/%%C" % paths["cp"])
    assert "BatchMode=yes" in argv


SSHD_REFUSED = """Server listening on 10.250.7.1 port 22.
Connection from 10.250.7.254 port 48932 on 10.250.7.1 port 22 rdomain ""
Authentication refused: bad ownership or modes for directory /tmp
Failed publickey for root from 10.250.7.254 port 48932 ssh2: ED25519 SHA256:wMCu02KNMSTYrWp9
Connection closed by authenticating user root 10.250.7.254 port 48932 [preauth]
"""
SSHD_WRONG_KEY = """Connection from 10.250.7.254 port 48934 on 10.250.7.1 port 22 rdomain ""
Failed publickey for root from 10.250.7.254 port 48934 ssh2: ED25519 SHA256:6vSHDFz6+AF/b86
Connection closed by authenticating user root 10.250.7.254 port 48934 [preauth]
"""
DENIED = "root@10.250.7.1: Permission denied (publickey)."


@pytest.mark.parametrize("client, log, says, cause", [
    (DENIED, SSHD_REFUSED, "bad ownership or modes for directory /tmp", "StrictModes"),
    (DENIED, SSHD_WRONG_KEY, "Failed publickey for root", "SHA256:6vSHDFz6+AF/b86) is not in"),
    ("ssh: connect to host 10.250.7.1 port 22: Connection refused", "", "(nothing logged)",
     "does not accept connections"),
    (DENIED, "", "(nothing logged)", "refused every key"),
])
def test_diagnose_login_names_the_cause(client, log, says, cause):
    paths = tb.layout("ab", REPO)
    got_says, got_cause = tb.diagnose_login(client, log, paths)
    assert says in got_says
    assert cause in got_cause
    assert "Connection from" not in got_says


def test_ssh_config_names_every_pnode():
    paths = tb.layout("ab", REPO)
    text = tb.render_ssh_config(tb.pnode_names("ab", 2), "10.250.7.0/24", paths)
    assert "Host ab-p2 10.250.7.2\n    HostName 10.250.7.2" in text
    assert "    IdentityFile /var/lib/vxlab-testbeds/ab/keys/pnodes_ed25519" in text
    assert "Host ab-p* 10.250.7.*\n    User root\n" in text
    assert "    ControlPath /var/lib/vxlab-testbeds/ab/cp/%C" in text


def test_sshd_argv_passes_values_as_positional_parameters():
    argv = tb.sshd_argv("vt-ab-p1", "/d/mnt/p1", "vxlab-vt-ab-p1", "/d/sshd/p1.conf")
    assert argv[:6] == ["nsenter", "--net=/run/netns/vt-ab-p1", "unshare", "-m",
                        "--propagation", "private"]
    assert argv[6:8] == ["sh", "-c"]
    assert argv[8] is tb.SSHD_SCRIPT
    assert argv[9:] == ["sh", "/d/mnt/p1", "vxlab-vt-ab-p1", "/d/sshd/p1.conf"]
    # the script is constant: no value of any testbed appears in it
    for value in ("vt-ab", "/d/", "p1"):
        assert value not in tb.SSHD_SCRIPT
    assert tb.SSHD_SCRIPT.rstrip().endswith('exec /usr/sbin/sshd -D -e -f "$3"')


def test_sshd_script_is_valid_sh():
    assert subprocess.run(["sh", "-n", "-c", tb.SSHD_SCRIPT], check=False).returncode == 0


def test_underlay_batch():
    text = tb.underlay_batch("ab", "10.250.7.0/24", tb.pnode_names("ab", 2))
    lines = text.splitlines()
    assert lines[:4] == [
        "link add vtab type bridge mcast_snooping 0",
        "link set dev vtab mtu 1500 alias vxlab-testbed:ab",
        "addr add 10.250.7.254/24 dev vtab",
        "link set dev vtab up",
    ]
    assert "netns add vt-ab-p2" in lines
    assert "link add vtabp2 mtu 1500 type veth peer name ib0 mtu 1500 netns vt-ab-p2" in lines
    assert "link set dev vtabp2 master vtab alias vxlab-testbed:ab up" in lines


def test_pnode_batch():
    assert tb.pnode_batch("10.250.7.0/24", 3).splitlines() == [
        "addr add 10.250.7.3/24 dev ib0", "link set dev ib0 mtu 1500 up", "link set dev lo up"]


def test_a_bare_inventory_names_no_interpreter_and_points_at_the_local_source():
    paths = tb.layout("ab", REPO)
    hosts_doc, group_vars = tb.render_inventory("ab", tb.pnode_names("ab", 2), "10.250.7.0/24", paths,
                                                {"vxlab_pnode_pip_find_links": "/elsewhere"}, bare=True)
    for h in hosts_doc["all"]["children"]["pnodes"]["hosts"].values():
        assert "ansible_python_interpreter" not in h  # Ansible discovers it, as on a fresh pnode
    assert group_vars["vxlab_pnode_apt_source"] == "deb [trusted=yes] file:/srv/vxlab-source/debs ./"
    assert group_vars["vxlab_pnode_pip_find_links"] == "/elsewhere"  # extra variables still win
    assert tb.validate_inventory(hosts_doc, group_vars).platform == "ab"
