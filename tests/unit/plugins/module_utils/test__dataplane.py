# -*- coding: utf-8 -*-
"""The one-call data plane: the plan's part of a pnode turned into each step's parameters (data),
each checked by that step's own argument spec before anything runs."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible_collections.vxlab.emulation.plugins.module_utils import _dataplane as dp
from ansible_collections.vxlab.emulation.plugins.module_utils._plan import plan_from_hostvars


def facts(n=3, per=4, pnode="pn1", **platform):
    hosts = {}
    for i in range(n):
        hv = {"ansible_host": "192.0.2.%d" % (i + 1), "vxlab_vnodes_per_pnode": per,
              "vxlab_underlay_address": "192.0.2.%d" % (i + 1)}
        hv.update(platform)
        hosts["pn%d" % (i + 1)] = hv
    plan = plan_from_hostvars(list(hosts), lambda h: hosts[h])
    # as the plan action hands it to the pnode: through JSON
    return json.loads(json.dumps(plan.pnode_facts(pnode)))


def test_every_step_gets_the_plan_values():
    p = facts(vxlab_vnode_kind="netns")
    out = dp.step_params(p, authorized_keys="ssh-ed25519 AAAA k")
    # netns vnodes need no base image: every step but lxc_image
    assert list(out) == [s for s in dp.MODULE_STEPS if s != "lxc_image"]
    assert out["bridge"] == {"name": p["bridge"], "platform": p["platform"], "mtu": p["mtu"],
                             "addresses": ["%s/%d" % (p["gateway"], p["prefixlen"])], "forwarding": True,
                             "mac": p["gateway_mac"]}
    assert out["vxlan"]["master"] == p["bridge"] and out["vxlan"]["vni"] == p["vni"]
    assert out["vxlan"]["remote_vteps"] == p["remote_vteps"] and len(p["remote_vteps"]) == 2
    assert out["vxlan"]["learning"] is True and out["vxlan"]["proxy"] is False
    assert out["neigh_limits"]["gc_thresh3"] == p["gc_thresh"][2]
    assert out["neigh_limits"]["netdev_max_backlog"] == p["netdev_max_backlog"] == 1000
    assert out["neigh_limits"]["interfaces"] == [p["underlay_interface"], p["bridge"]]
    assert out["vnodes"]["vnodes"] == p["vnodes"] and len(p["vnodes"]) == 4
    assert out["vnodes"]["authorized_keys"] == "ssh-ed25519 AAAA k" and "image" not in out["vnodes"]
    assert out["arp_tables"]["layout"] == p["neigh_layout"] and out["arp_tables"]["mode"] == "dynamic"
    assert out["link_shaping"] == {"platform": p["platform"], "vnodes": p["vnodes"], "shaping": {}}


def test_a_non_gateway_pnode_has_no_address_and_no_forwarding():
    out = dp.step_params(facts(pnode="pn2", vxlab_vnode_kind="netns"))
    assert out["bridge"]["addresses"] == [] and out["bridge"]["forwarding"] is False
    assert "mac" not in out["bridge"]  # a random fixed MAC, as any bridge


def test_shared_kernel_leaves_gc_thresh_and_backlog_alone():
    out = dp.step_params(facts(), shared_kernel=True)
    assert not [k for k in out["neigh_limits"] if k.startswith("gc_thresh") or k == "netdev_max_backlog"]


def test_suppress_mode_and_multicast():
    p = facts(vxlab_arp_mode="suppress", vxlab_vxlan_mode="multicast", vxlab_vxlan_group="239.1.1.1")
    out = dp.step_params(p, steps=["vxlan", "arp_tables"], gateway_mac="02:00:00:00:00:01")
    assert list(out) == ["vxlan", "arp_tables"]
    assert out["vxlan"]["learning"] is False and out["vxlan"]["proxy"] is True
    assert out["vxlan"]["group"] == "239.1.1.1" and out["vxlan"]["remote_vteps"] == []
    assert out["arp_tables"]["gateway_mac"] == "02:00:00:00:00:01"


def test_every_pnode_knows_the_gateway_mac_from_the_plan():
    # ARP suppression in the same call on every pnode: the gateway pnode's bridge gets the MAC the
    # vnode rule gives the gateway address, and every pnode's table answers with that one
    gw = facts(pnode="pn1", vxlab_arp_mode="suppress")
    other = facts(pnode="pn3", vxlab_arp_mode="suppress")
    assert gw["gateway_mac"] == other["gateway_mac"]
    assert dp.step_params(gw)["bridge"]["mac"] == gw["gateway_mac"]
    out = dp.step_params(other)
    assert "arp_tables" in out and out["arp_tables"]["gateway_mac"] == gw["gateway_mac"]
    # the MAC rule of the vnodes applied to the gateway address: no vnode has it
    assert gw["gateway_mac"].split(":")[2:] == ["%02x" % int(x) for x in gw["gateway"].split(".")]
    assert gw["gateway_mac"] not in [v["mac"] for v in gw["vnodes"] + other["vnodes"]]


def test_lxc_vnodes_get_the_image_and_limits():
    p = facts(vxlab_vnode_kind="lxc", vxlab_vnode_cpu=0.5)
    out = dp.step_params(p, image="/var/cache/vxlab/images/x/rootfs")
    assert out["vnodes"]["image"] == "/var/cache/vxlab/images/x/rootfs"
    assert out["vnodes"]["kind"] == "lxc" and out["vnodes"]["cpu"] == 0.5


def test_lxc_vnodes_without_an_image_get_the_image_step_first():
    """No image given: the lxc_image step builds the plan's (or the default) base image, and the
    vnodes step gets the root filesystem it returns when the module runs."""
    out = dp.step_params(facts(vxlab_vnode_kind="lxc"))
    assert list(out)[0] == "lxc_image" and out["lxc_image"] == {}
    assert out["vnodes"]["image"] is None
    out = dp.step_params(facts(vxlab_vnode_kind="lxc", vxlab_lxc_image="/srv/images/base.tar.xz"))
    assert out["lxc_image"] == {"tarball": "/srv/images/base.tar.xz"}
    out = dp.step_params(facts(vxlab_vnode_kind="lxc", vxlab_lxc_image="/srv/images/rootfs"))
    assert out["lxc_image"] == {"rootfs": "/srv/images/rootfs"}
    # an image given to the module: no image step
    assert "lxc_image" not in dp.step_params(facts(vxlab_vnode_kind="lxc"), image="/srv/images/rootfs")


def test_every_step_passes_its_own_argument_spec():
    p = facts(vxlab_vnode_kind="netns")
    for step, params in dp.step_params(p).items():
        checked = dp.validated(step, params)
        assert checked["platform"] == p["platform"]


def test_unknown_step_and_incomplete_part_are_named():
    with pytest.raises(dp.DataplaneError, match="unknown step.*routes"):
        dp.step_params(facts(), steps=["bridge", "routes"])
    p = facts()
    del p["vtep"]
    with pytest.raises(dp.DataplaneError, match="lacks vtep"):
        dp.step_params(p)


def test_a_bad_value_fails_its_step_validation():
    params = dp.step_params(facts())["bridge"]
    params["mtu"] = "not-a-number"
    with pytest.raises(dp.DataplaneError, match="^bridge: .*mtu"):
        dp.validated("bridge", params)


def test_client_files_are_written_once_with_their_modes(tmp_path):
    p = facts()
    p["client_dir"] = str(tmp_path / "client")
    p["client_ssh_config"] = p["client_dir"] + "/ssh_config"
    p["client_key"] = p["client_dir"] + "/id_platform"
    files = dp.client_files(p, "Host a\n", "-----KEY-----")
    changed, done, diff = dp.sync_client_files(p["client_dir"], files, check_mode=True)
    assert changed and not (tmp_path / "client").exists()  # check mode touches nothing
    changed, done, diff = dp.sync_client_files(p["client_dir"], files, check_mode=False)
    assert changed and "KEY" not in diff["after"]
    import os
    assert os.stat(p["client_dir"]).st_mode & 0o777 == 0o700
    assert os.stat(p["client_key"]).st_mode & 0o777 == 0o600
    assert open(p["client_key"]).read() == "-----KEY-----\n"
    assert os.stat(p["client_ssh_config"]).st_mode & 0o777 == 0o644
    assert dp.sync_client_files(p["client_dir"], files, check_mode=False)[0] is False
    os.chmod(p["client_key"], 0o644)  # drift
    changed, done, dummy = dp.sync_client_files(p["client_dir"], files, check_mode=False)
    assert changed and done == ["chmod " + p["client_key"]]
    assert os.stat(p["client_key"]).st_mode & 0o777 == 0o600


def test_client_files_need_both_texts():
    with pytest.raises(dp.DataplaneError, match="client_key"):
        dp.client_files(facts(), "Host a\n", None)


def test_absent_removes_in_reverse_order_with_each_modules_parameters():
    p = facts()
    assert dp.check_steps(None, "absent") == ["vnodes", "vnode_networks", "network_arp", "arp_tables", "link_matrix",
                                              "client_files", "vxlan", "networks", "bridge", "neigh_limits"]
    assert dp.check_steps(["bridge", "vnodes"], "absent") == ["vnodes", "bridge"]
    with pytest.raises(dp.DataplaneError, match="unknown step.*link_shaping for state absent"):
        dp.check_steps(["link_shaping"], "absent")
    out = dp.absent_params(p)
    assert out["vnodes"] == {"platform": p["platform"], "kind": p["vnode_kind"], "bridge": p["bridge"],
                             "vnodes": [], "state_dir": p["pnode_state_dir"], "state": "absent"}
    assert out["vxlan"]["state"] == out["bridge"]["state"] == out["neigh_limits"]["state"] == "absent"
    # the ARP-table step only forgets its record of filled tables (the vnodes went with them)
    assert out["arp_tables"] == {"platform": p["platform"], "vxlan": p["vxlan"], "state_dir": p["pnode_state_dir"],
                                 "state": "absent"}
    for step, params in out.items():
        assert dp.validated(step, params)["state"] == "absent"


def test_client_files_removal_tolerates_a_concurrent_one(tmp_path):
    d = tmp_path / "client"
    assert dp.remove_client_files(str(d), False) == (False, [])
    d.mkdir()
    (d / "ssh_config").write_text("x")
    assert dp.remove_client_files(str(d), True)[0] and d.exists()  # check mode
    assert dp.remove_client_files(str(d), False) == (True, ["remove %s" % d])
    assert not d.exists()


def test_client_files_trust_the_vnodes_host_key_for_every_address(tmp_path):
    import subprocess
    key = str(tmp_path / "hk")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    private, public = open(key).read(), " ".join(open(key + ".pub").read().split()[:2])
    p = facts(vxlab_vnode_network="10.150.0.0/20")
    files = dp.client_files(p, "Host a\n", "-----KEY-----", private)
    assert p["client_known_hosts"] == p["client_dir"] + "/known_hosts"
    assert files[p["client_known_hosts"]] == (
        ",".join("10.150.%d.*" % i for i in range(16)) + " " + public + "\n", 0o644)
    assert p["client_known_hosts"] not in dp.client_files(p, "Host a\n", "-----KEY-----")
    with pytest.raises(dp.DataplaneError, match="host_key"):
        dp.client_files(p, "Host a\n", "-----KEY-----", "not a key")
    # and the vnodes step presents it
    assert dp.step_params(p, host_key=private)["vnodes"]["host_key"] == private


def test_results_show_the_plan_part_summed_up():
    # a result travels back over SSH and into every callback and runner event: the vnode list of
    # the plan's part is left out of the module_args it shows, the texts are shown by length
    p = facts(per=40)
    shown = dp.Dataplane().invocation({"pnode": p, "state": "present", "authorized_keys": "ssh-ed25519 AAAA k",
                                       "client_ssh_config": "Host *\n", "client_key": "KEY", "steps": None})
    assert shown["pnode"] == {"pnode": "pn1", "platform": p["platform"], "vnodes": 40,
                              "summary": "vxlab_pnode, the plan's part of this pnode (shortened in results)"}
    assert shown["authorized_keys"] == "(18 characters)" and shown["client_ssh_config"] == "(7 characters)"
    assert shown["state"] == "present" and len(json.dumps(shown)) < len(json.dumps(p)) / 10
