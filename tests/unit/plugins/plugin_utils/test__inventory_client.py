"""The vnodes' client ssh_config (vnode-to-vnode SSH), as data and as ssh itself reads it; the plan
action's directory that carries it to the pnodes."""
from __future__ import absolute_import, division, print_function
import subprocess
import pytest
from ansible_collections.vxlab.emulation.plugins.module_utils._plan import PlanError, plan_from_hostvars
from ansible_collections.vxlab.emulation.plugins.plugin_utils._inventory import (
    client_ssh_config_text,
    ssh_config_text,
)


def plan_of(n=3, per=4, **platform):
    hosts = {}
    for i in range(n):
        hv = {"ansible_host": "192.0.2.%d" % (i + 1), "vxlab_vnodes_per_pnode": per,
              "vxlab_platform": "cl", "vxlab_vnode_network": "10.60.0.0/24",
              "vxlab_state_dir": "/var/lib/vxlab", "vxlab_ssh_key": "/ctl/keys/cl_ed25519"}
        hv.update(platform)
        hosts["pn%d" % (i + 1)] = hv
    return plan_from_hostvars(list(hosts), lambda h: hosts[h])


def ssh_g(path, host):
    """ssh's own reading of the file (ssh -G parses, connects to nothing)."""
    out = subprocess.run(["ssh", "-G", "-F", str(path), host], check=True, text=True,
                         stdout=subprocess.PIPE).stdout
    opts = {}
    for line in out.splitlines():
        key, dummy, value = line.partition(" ")
        opts.setdefault(key, value)
    return opts


def test_client_ssh_config_text():
    plan = plan_of()  # proxyjump access (the default): still no ProxyJump in the client file
    text = client_ssh_config_text(plan)
    assert text == client_ssh_config_text(plan_of())  # same input, same bytes
    assert plan.client_dir == "/var/lib/vxlab/cl/client"
    entries = ["Host %s %s\n    HostName %s\n\n" % (v["name"], v["address"], v["address"])
               for v in plan.iter_vnodes()]
    assert "".join(entries) in text  # one entry per vnode, in plan order
    assert "".join(entries) in ssh_config_text(plan, "/ctl/out")  # the same entries as there
    assert text.count("\nHost ") == 12 + 1  # the twelve vnodes and the shared block
    assert "ProxyJump" not in text and "pn1" not in text  # no pnode entry, no jump
    assert text.endswith(
        "Host cl-* 10.60.0.*\n"
        "    User root\n"
        "    IdentityFile /var/lib/vxlab/cl/client/id_platform\n"
        "    IdentitiesOnly yes\n"
        "    StrictHostKeyChecking yes\n"
        "    UserKnownHostsFile /var/lib/vxlab/cl/client/known_hosts\n"
        "    LogLevel ERROR\n"
        "    BatchMode yes\n"
        "    ConnectTimeout 10\n")
    assert "ssh -F /var/lib/vxlab/cl/client/ssh_config NAME" in text


def test_ssh_reads_the_client_file_by_name_and_address(tmp_path):
    plan = plan_of(vxlab_state_dir="/srv/vx")
    path = tmp_path / "ssh_config"
    path.write_text(client_ssh_config_text(plan))
    v = plan.vnodes_of("pn2")[1]
    for host in (v["name"], v["address"]):
        opts = ssh_g(path, host)
        assert opts["hostname"] == v["address"]
        assert opts["user"] == "root"
        assert opts["identityfile"] == "/srv/vx/cl/client/id_platform"
        assert opts["stricthostkeychecking"] == "true"
        assert opts["userknownhostsfile"] == "/srv/vx/cl/client/known_hosts"
        assert opts["batchmode"] == "yes" and opts["identitiesonly"] == "yes"
        assert opts["connecttimeout"] == "10" and opts["loglevel"] == "ERROR"
        assert "proxyjump" not in opts


def test_client_file_stays_one_line_pair_per_vnode_at_40000_vnodes():
    plan = plan_of(n=40, per=1000, vxlab_vnode_network="10.64.0.0/10")
    text = client_ssh_config_text(plan)
    assert text.count("\n    HostName ") == 40000
    assert len(text) < 40000 * 60  # ~2 MB, copied once per pnode


def test_pnodes_named_like_the_platform_directories_are_refused():
    for name in ("client", "control"):
        hosts = {name: {"ansible_host": "192.0.2.9"}}
        with pytest.raises(PlanError) as info:
            plan_from_hostvars([name], lambda h: hosts[h])
        assert info.value.variable == "inventory_hostname" and "reserved" in str(info.value)
