"""vxlab.render: generated artifacts, their content, determinism, modes; real ssh/clush parsing."""
import filecmp
import json
import os
import stat
import subprocess

import pytest
import yaml

from vxlab.inventory import load
from vxlab.render import FILES, render

from vxlab_test_helpers import VENV_BIN, write


def _render(inv, out, extra=None):
    loaded = load([inv], extra)
    return loaded, render(loaded.plan, str(out), loaded.sources, loaded.extra_vars,
                          loaded.hostvars)


def _ssh_g(config, host):
    """ssh's own view of a Host entry (ssh -G parses the config, connects to nothing)."""
    out = subprocess.run(["ssh", "-G", "-F", config, host], check=True, text=True,
                         stdout=subprocess.PIPE).stdout
    opts = {}
    for line in out.splitlines():
        key, dummy, value = line.partition(" ")
        opts.setdefault(key, value)
    return opts


def test_all_files_written_0644_and_deterministic(tmp_path, ini_inventory):
    out = tmp_path / "out"
    files = _render(ini_inventory, out)[1]
    assert files == [str(out / f) for f in FILES]
    snapshot = {f: open(f, "rb").read() for f in files}
    for f in files:
        mode = stat.S_IMODE(os.stat(f).st_mode)
        assert mode == 0o644, (f, oct(mode))
    again = _render(ini_inventory, out)[1]  # a second plan built from scratch: same bytes
    assert {f: open(f, "rb").read() for f in again} == snapshot
    other = tmp_path / "copy"
    _render(ini_inventory, other)
    # only the out_dir path differs between two directories
    for rel in ("platform.json", "hosts", "taktuk.machines"):
        assert filecmp.cmp(str(out / rel), str(other / rel), shallow=False)


def test_keys_are_referenced_never_copied(tmp_path, ini_inventory):
    key = write(str(tmp_path / "keys" / "demo_ed25519"), "SECRET-KEY-MATERIAL\n")
    files = _render(ini_inventory, tmp_path / "out", {"vxlab_ssh_key": key})[1]
    for f in files:
        assert b"SECRET-KEY-MATERIAL" not in open(f, "rb").read()
    assert sorted(os.listdir(str(tmp_path / "out"))) == sorted(
        {f.split("/")[0] for f in FILES})


def test_vnodes_yml_content(tmp_path, ini_inventory):
    out = tmp_path / "out"
    loaded = _render(ini_inventory, out)[0]
    text = open(str(out / "vnodes.yml")).read()
    doc = json.loads(text)  # JSON, so Ansible's fast parser reads it; JSON is also YAML
    assert yaml.safe_load(text) == doc
    demo = doc["all"]["children"]["vnodes"]["children"]["demo"]
    assert demo["vars"] == {
        "ansible_user": "root", "ansible_ssh_private_key_file": "/keys/demo_ed25519",
        "ansible_python_interpreter": "/usr/bin/python3",
        "ansible_ssh_common_args": "-F %s" % (out / "ssh_config"),
    }
    groups = demo["children"]
    assert list(groups) == ["demo_on_p2", "demo_on_p1"]
    assert list(groups["demo_on_p1"]["hosts"]) == ["demo-6", "demo-7", "demo-8", "demo-9",
                                                   "demo-10"]
    assert groups["demo_on_p2"]["hosts"]["demo-1"] == {
        "ansible_host": "10.144.0.2", "vxlab_pnode": "p2",
        "vxlab_mac": loaded.plan.vnodes_of("p2")[0]["mac"]}
    assert '\n         "demo-1": {"ansible_host": "10.144.0.2", ' in text  # a line per vnode
    assert json.load(open(str(out / "platform.json"))) == loaded.plan.to_dict()


def test_ssh_config_proxyjump(tmp_path, ini_inventory):
    out = tmp_path / "out"
    _render(ini_inventory, out)
    cfg = str(out / "ssh_config")
    v = _ssh_g(cfg, "demo-7")
    assert v["hostname"] == "10.144.0.8"
    assert v["user"] == "root"
    assert v["proxyjump"] == "p2"  # the gateway pnode (first in the pnodes group)
    assert v["identityfile"] == "/keys/demo_ed25519"
    # the vnodes present the platform's host key, which known_hosts holds: checked strictly
    assert v["userknownhostsfile"] == str(out / "known_hosts")
    assert v["stricthostkeychecking"] == "true"
    assert v["batchmode"] == "yes" and v["loglevel"] == "ERROR"
    p2 = _ssh_g(cfg, "p2")  # the jump host entry carries the pnode's inventory connection vars
    assert (p2["hostname"], p2["port"], p2["user"]) == ("192.168.50.12", "2222", "admin")
    assert p2["identityfile"] == "/keys/pnode_ed25519"
    # options from ansible_ssh_common_args come first and win
    assert p2["stricthostkeychecking"] == "false"
    assert p2["userknownhostsfile"] == "/dev/null"
    p1 = _ssh_g(cfg, "p1")
    assert p1["hostname"] == "192.168.50.11" and p1["stricthostkeychecking"] == "accept-new"
    assert p1["userknownhostsfile"] == str(out / "known_hosts.pnodes")


def test_known_hosts_is_one_line_for_the_platforms_host_key(tmp_path, ini_inventory):
    """One known_hosts line covers every vnode address; ssh itself finds the key for a vnode by
    name (through its HostName) and by address, and for no pnode."""
    keys = tmp_path / "keys"
    keys.mkdir()
    host_key = str(keys / "vxlab_demo_host_ed25519")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", host_key], check=True)
    out = tmp_path / "out"
    _render(ini_inventory, out, {"vxlab_ssh_key": str(keys / "demo_ed25519")})
    text = open(str(out / "known_hosts")).read()
    pub = open(host_key + ".pub").read().split()
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert lines == ["10.144.* %s %s" % (pub[0], pub[1])]
    for host in ("10.144.0.8", "10.144.3.200"):
        found = subprocess.run(["ssh-keygen", "-F", host, "-f", str(out / "known_hosts")],
                               text=True, stdout=subprocess.PIPE, check=False)
        assert found.returncode == 0 and pub[1] in found.stdout
    assert subprocess.run(["ssh-keygen", "-F", "192.168.50.12", "-f", str(out / "known_hosts")],
                          stdout=subprocess.PIPE, check=False).returncode != 0
    # before the key exists, the file says so and trusts nothing
    other = tmp_path / "none"
    _render(ini_inventory, other, {"vxlab_ssh_key": "/nonexistent/demo_ed25519"})
    assert [ln for ln in open(str(other / "known_hosts")) if not ln.startswith("#")] == []


def test_ssh_config_route_is_direct(tmp_path, yaml_inventory):
    out = tmp_path / "out"
    _render(yaml_inventory, out)
    v = _ssh_g(str(out / "ssh_config"), "rt-8")
    assert v["hostname"] == "10.77.0.9"
    assert "proxyjump" not in v
    text = open(str(out / "ssh_config")).read()
    assert "ProxyJump" not in text
    assert text.count("\nHost rt-") == 8 + 1  # eight vnodes and the common block


def test_gateway_pnode_choice_is_the_jump_host(tmp_path, ini_inventory):
    out = tmp_path / "out"
    _render(ini_inventory, out, {"vxlab_gateway_pnode": "p1"})
    assert _ssh_g(str(out / "ssh_config"), "demo-1")["proxyjump"] == "p1"


def test_hosts_taktuk_and_clustershell(tmp_path, yaml_inventory):
    out = tmp_path / "out"
    _render(yaml_inventory, out)
    assert open(str(out / "taktuk.machines")).read().split() == [
        "rt-%d" % i for i in (1, 2, 3, 4, 5, 6, 7, 8)]
    hosts = [line.split() for line in open(str(out / "hosts")) if not line.startswith("#")]
    assert hosts[0] == ["10.77.0.2", "rt-1"] and hosts[-1] == ["10.77.0.9", "rt-8"]
    groups = yaml.safe_load(open(str(out / "clush_groups.yaml")))
    assert groups == {"rt": {"all": "rt-[1-8]", "pnodes": "a[1-3]", "on_a1": "rt-[1-3]",
                             "on_a2": "rt-[4-6]", "on_a3": "rt-[7-8]"}}
    env = dict(os.environ, CLUSTERSHELL_CFGDIR=str(out / "clustershell"))
    nodeset = os.path.join(VENV_BIN, "nodeset")

    def ns(*args):
        return subprocess.run([nodeset] + list(args), env=env, check=True, text=True,
                              stdout=subprocess.PIPE).stdout.strip()

    assert ns("-f", "@rt:all") == "rt-[1-8]"
    assert ns("-f", "@on_a3") == "rt-[7-8]"  # rt is the default source there
    assert ns("-c", "@all") == "8"
    clush = open(str(out / "clustershell" / "clush.conf")).read()
    assert "ssh_options: -F %s\n" % (out / "ssh_config") in clush


def test_pinned_playbooks_and_ansible_cfg(tmp_path, ini_inventory):
    out = tmp_path / "out"
    _render(ini_inventory, out, {"vxlab_mtu": 1400})
    deploy = yaml.safe_load(open(str(out / "deploy.yml")))
    assert deploy[0]["hosts"] == "pnodes"
    assert deploy[0]["tasks"][0]["ansible.builtin.set_fact"] == {"vxlab_mtu": 1400}
    assert deploy[-1]["ansible.builtin.import_playbook"] == "vxlab.emulation.deploy"
    destroy = yaml.safe_load(open(str(out / "destroy.yml")))
    assert destroy[-1]["ansible.builtin.import_playbook"] == "vxlab.emulation.destroy"
    cfg = open(str(out / "ansible.cfg")).read()
    assert "inventory = %s\n" % ini_inventory in cfg
    assert "collections_path = /" in cfg
    # without -e no pinning play
    _render(ini_inventory, tmp_path / "plain")
    assert len(yaml.safe_load(open(str(tmp_path / "plain" / "deploy.yml")))) == 1


def test_pinned_playbook_resolves_from_out_dir(tmp_path, ini_inventory):
    """ansible-playbook in out_dir finds the pnode inventory and the collection's playbook."""
    out = tmp_path / "out"
    _render(ini_inventory, out, {"vxlab_mtu": 1400})
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "--list-hosts",
                           "deploy.yml"], cwd=str(out), env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout
    assert "p1" in proc.stdout and "p2" in proc.stdout


def test_rendered_vnodes_yml_is_what_ansible_inventory_reads(tmp_path, ini_inventory):
    out = tmp_path / "out"
    _render(ini_inventory, out)
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-inventory"), "-i",
                           str(out / "vnodes.yml"), "--list"], text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    data = json.loads(proc.stdout)
    assert data["demo_on_p1"]["hosts"] == ["demo-6", "demo-7", "demo-8", "demo-9", "demo-10"]
    hv = data["_meta"]["hostvars"]["demo-10"]
    assert hv["ansible_host"] == "10.144.0.11" and hv["vxlab_pnode"] == "p1"
    assert hv["ansible_user"] == "root"  # from the platform group
    assert hv["ansible_ssh_common_args"] == "-F %s" % (out / "ssh_config")


def test_vnode_options_apply_by_address_too(tmp_path, ini_inventory):
    """Ansible connects to ansible_host (the address): the same options must apply."""
    out = tmp_path / "out"
    _render(ini_inventory, out)
    cfg = str(out / "ssh_config")
    by_name, by_address = _ssh_g(cfg, "demo-7"), _ssh_g(cfg, "10.144.0.8")
    for key in ("hostname", "user", "identityfile", "proxyjump", "userknownhostsfile",
                "stricthostkeychecking", "batchmode"):
        assert by_name[key] == by_address[key], key
    assert by_address["proxyjump"] == "p2"


def test_pnodes_named_like_the_platform_keep_their_own_options(tmp_path):
    """Testbed pnodes are called <platform>-p<N>: the vnode block must not reach them."""
    inv = write(str(tmp_path / "tb" / "hosts.yml"), """
        pnodes:
          vars: {vxlab_platform: tb, vxlab_vnodes_per_pnode: 2, vxlab_ssh_key: /k/vnode}
          hosts:
            tb-p1: {ansible_host: 10.250.0.1, ansible_user: root, ansible_ssh_private_key_file: /k/pnode}
            tb-p2: {ansible_host: 10.250.0.2}
        """)
    out = tmp_path / "out"
    _render(inv, out)
    cfg = str(out / "ssh_config")
    assert "\nHost tb-* 10.144.* !tb-p1 !tb-p2\n" in open(cfg).read()
    gw = _ssh_g(cfg, "tb-p1")
    assert gw["hostname"] == "10.250.0.1" and gw["identityfile"] == "/k/pnode"
    assert "proxyjump" not in gw  # no jump to itself
    assert _ssh_g(cfg, "tb-3")["proxyjump"] == "tb-p1"


def test_pnode_named_like_a_vnode_is_refused(tmp_path):
    from vxlab.inventory import PlanError

    inv = write(str(tmp_path / "x" / "hosts.yml"), """
        pnodes:
          vars: {vxlab_platform: xx}
          hosts:
            xx-3: {ansible_host: 10.250.0.1}
        """)
    with pytest.raises(PlanError, match="inventory_hostname='xx-3'.*vnode names"):
        load([inv])


@pytest.mark.parametrize("cidr,globs", [
    ("10.144.0.0/16", ["10.144.*"]),
    ("10.0.0.0/8", ["10.*"]),
    ("192.168.4.0/24", ["192.168.4.*"]),
    ("10.144.16.0/22", ["10.144.16.*", "10.144.17.*", "10.144.18.*", "10.144.19.*"]),
    ("172.16.0.0/15", ["172.16.*", "172.17.*"]),
    ("10.1.2.128/30", ["10.1.2.128", "10.1.2.129", "10.1.2.130", "10.1.2.131"]),
])
def test_network_globs_cover_the_network_exactly(cidr, globs):
    import fnmatch
    import ipaddress

    from ansible_collections.vxlab.emulation.plugins.plugin_utils._inventory import network_globs

    assert network_globs(cidr) == globs
    net = ipaddress.ip_network(cidr)
    for probe in (net.network_address, net.broadcast_address, net.network_address - 1,
                  net.broadcast_address + 1):
        inside = probe in net
        assert any(fnmatch.fnmatchcase(str(probe), g) for g in globs) is inside, probe


TOPOLOGY_INVENTORY = """pnodes:
  hosts:
    p1: {ansible_host: 192.0.2.1}
    p2: {ansible_host: 192.0.2.2}
  vars:
    vxlab_platform: tp
    vxlab_vnodes_per_pnode: 4
    vxlab_networks:
      - {name: front, cidr: 10.150.0.0/24}
      - {name: back, cidr: 10.150.1.0/24}
    vxlab_vnode_groups:
      - {name: web, vnodes: "tp-[1-3]", networks: [front]}
      - {name: db, pnodes: [p2], networks: [back]}
      - {name: gw, vnodes: [tp-4], networks: [front, back], router: true}
"""


def test_topology_groups_and_data_names_are_rendered(tmp_path):
    inv = write(str(tmp_path / "hosts.yml"), TOPOLOGY_INVENTORY)
    out = tmp_path / "out"
    _render(inv, out)
    groups = yaml.safe_load(open(str(out / "clush_groups.yaml")))
    flat = {}
    for section in groups.values():
        flat.update(section)
    assert flat["web"] == "tp-[1-3]" and flat["db"] == "tp-[5-8]" and flat["gw"] == "tp-4"
    assert flat["net_front"] == "tp-[1-4]" and flat["net_back"] == "tp-[4-8]"
    hosts = open(str(out / "hosts")).read().splitlines()
    assert "10.150.0.4\ttp-4.front" in hosts and "10.150.1.4\ttp-4.back" in hosts
    assert "10.150.1.5\ttp-5.back" in hosts
    inventory = yaml.safe_load(open(str(out / "vnodes.yml")))
    children = inventory["all"]["children"]["vnodes"]["children"]["tp"]["children"]
    assert sorted(children["tp_web"]["hosts"]) == ["tp-1", "tp-2", "tp-3"]
    assert children["tp_on_p1"]["hosts"]["tp-4"]["vxlab_networks"] == {"front": "10.150.0.4", "back": "10.150.1.4"}
    platform = json.load(open(str(out / "platform.json")))
    assert [n["name"] for n in platform["networks"]] == ["front", "back"]
