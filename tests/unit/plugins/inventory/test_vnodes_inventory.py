"""The vxlab.emulation.vnodes inventory plugin, through ansible-inventory and a real
InventoryManager (no mocks): it must publish exactly what vxlab render writes to vnodes.yml."""
import json
import os
import subprocess
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))))
BIN = os.path.join(REPO, ".venv", "bin")
ENV = dict({k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")},
           ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"))


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(textwrap.dedent(text).lstrip())
    return path


@pytest.fixture
def pnode_dir(tmp_path):
    d = str(tmp_path / "inv")
    _write(os.path.join(d, "hosts.yml"), """
        all:
          children:
            pnodes:
              hosts:
                node-a: {ansible_host: 192.168.70.1, ansible_user: admin}
                node-b: {ansible_host: 192.168.70.2}
        """)
    _write(os.path.join(d, "group_vars", "pnodes.yml"), """
        vxlab_platform: pv
        vxlab_vnodes_per_pnode: 3
        vxlab_ssh_key: /keys/pv_ed25519
        """)
    return d


def _unwrap(data):
    """ansible-inventory shows strings a plugin set as {"__ansible_unsafe": ...} (never templated)."""
    if isinstance(data, dict):
        if list(data) == ["__ansible_unsafe"]:
            return data["__ansible_unsafe"]
        return {k: _unwrap(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_unwrap(v) for v in data]
    return data


def _inventory(*args):
    proc = subprocess.run([os.path.join(BIN, "ansible-inventory")] + list(args), env=ENV,
                          text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120, check=False)
    return proc


def test_ansible_inventory_list(pnode_dir):
    cfg = _write(os.path.join(pnode_dir, "pv.vnodes.yml"), """
        plugin: vxlab.emulation.vnodes
        pnode_inventory: hosts.yml
        """)
    proc = _inventory("-i", cfg, "--list")
    assert proc.returncode == 0, proc.stderr
    data = _unwrap(json.loads(proc.stdout))
    assert data["vnodes"]["children"] == ["pv"]
    assert data["pv"]["children"] == ["pv_on_node_a", "pv_on_node_b"]
    assert data["pv_on_node_b"]["hosts"] == ["pv-4", "pv-5", "pv-6"]
    ssh_config = os.path.join(pnode_dir, ".vxlab", "pv", "ssh_config")
    assert data["_meta"]["hostvars"]["pv-5"] == {
        "ansible_host": "10.144.0.6", "vxlab_pnode": "node-b",
        "vxlab_mac": data["_meta"]["hostvars"]["pv-5"]["vxlab_mac"],
        "ansible_user": "root", "ansible_ssh_private_key_file": "/keys/pv_ed25519",
        "ansible_python_interpreter": "/usr/bin/python3",
        "ansible_ssh_common_args": "-F " + ssh_config,
    }
    # the ssh_config it points at is written, 0644, with the pnode's user for the jump
    assert oct(os.stat(ssh_config).st_mode & 0o777) == "0o644"
    text = open(ssh_config).read()
    assert "Host node-a\n    HostName 192.168.70.1\n    User admin\n" in text
    assert "    ProxyJump node-a\n" in text


def test_same_hosts_groups_and_vars_as_rendered_vnodes_yml(pnode_dir, tmp_path):
    from vxlab.inventory import load
    from vxlab.render import render

    cfg = _write(os.path.join(pnode_dir, "pv.vnodes.yml"), """
        plugin: vxlab.emulation.vnodes
        pnode_inventory: [hosts.yml]
        extra_vars: {vxlab_vnodes_per_pnode: 4}
        """)
    plugin = _unwrap(json.loads(_inventory("-i", cfg, "--list").stdout))
    loaded = load([os.path.join(pnode_dir, "hosts.yml")], {"vxlab_vnodes_per_pnode": 4})
    render(loaded.plan, loaded.state_dir, loaded.sources, loaded.extra_vars, loaded.hostvars)
    vnodes_yml = os.path.join(loaded.state_dir, "vnodes.yml")
    rendered = _unwrap(json.loads(_inventory("-i", vnodes_yml, "--list").stdout))
    assert plugin == rendered
    assert len(plugin["_meta"]["hostvars"]) == 8


_MANAGER_SCRIPT = """
import json, sys
from ansible.plugins.loader import init_plugin_loader
init_plugin_loader()
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
inv = InventoryManager(loader=DataLoader(), sources=[sys.argv[1]])
from ansible.inventory.helpers import get_group_vars
host = inv.get_host("pv-6")
allvars = dict(get_group_vars(host.get_groups()), **host.vars)
print(json.dumps({
    "even": sorted(h.name for h in inv.get_hosts("even")),
    "pnode_node_a": [h.name for h in inv.get_hosts("pnode_node_a")],
    "last_octet": host.vars["last_octet"],
    "common_args": str(allvars["ansible_ssh_common_args"]),
    "user_composed": str(host.vars["user_composed"]),
}))
"""


def test_constructable_with_a_real_inventory_manager(pnode_dir):
    """In a fresh interpreter, so the collection loader is set up from ansible.cfg as in a run."""
    cfg = _write(os.path.join(pnode_dir, "c.vnodes.yaml"), """
        plugin: vxlab.emulation.vnodes
        pnode_inventory: hosts.yml
        write_ssh_config: false
        ssh_config: cfg/ssh_config
        compose:
          last_octet: ansible_host.split('.')[-1] | int
          user_composed: ansible_user ~ '@' ~ inventory_hostname
        groups:
          even: (ansible_host.split('.')[-1] | int) % 2 == 0
        keyed_groups:
          - key: vxlab_pnode
            prefix: pnode
        """)
    proc = subprocess.run([os.path.join(BIN, "python"), "-c", _MANAGER_SCRIPT, cfg], env=ENV,
                          text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got == {
        "even": ["pv-1", "pv-3", "pv-5"],
        "pnode_node_a": ["pv-1", "pv-2", "pv-3"],
        "last_octet": 7,
        "user_composed": "root@pv-6",  # compose sees the platform group's variables too
        "common_args": "-F " + os.path.join(pnode_dir, "cfg", "ssh_config"),
    }
    assert not os.path.exists(os.path.join(pnode_dir, "cfg"))  # write_ssh_config: false
    assert not os.path.exists(os.path.join(pnode_dir, ".vxlab"))


def test_invalid_platform_is_a_parse_error_naming_the_variable(pnode_dir):
    cfg = _write(os.path.join(pnode_dir, "bad.vnodes.yml"), """
        plugin: vxlab.emulation.vnodes
        pnode_inventory: hosts.yml
        extra_vars: {vxlab_vnodes_per_pnode: 5000}
        """)
    proc = _inventory("-i", cfg, "--list")
    assert "vxlab_vnodes_per_pnode=5000" in proc.stderr
    assert "pv-1" not in proc.stdout


def test_other_file_names_are_not_claimed(pnode_dir):
    from ansible_collections.vxlab.emulation.plugins.inventory.vnodes import InventoryModule

    plugin = InventoryModule()
    good = _write(os.path.join(pnode_dir, "x.vnodes.yml"), "plugin: vxlab.emulation.vnodes\n")
    other = _write(os.path.join(pnode_dir, "x.yml"), "plugin: vxlab.emulation.vnodes\n")
    assert plugin.verify_file(good)
    assert not plugin.verify_file(other)


def test_ansible_doc_renders():
    proc = subprocess.run([os.path.join(BIN, "ansible-doc"), "-t", "inventory",
                           "vxlab.emulation.vnodes"], env=ENV, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "pnode_inventory" in proc.stdout and "keyed_groups" in proc.stdout
