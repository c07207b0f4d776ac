"""Fixtures of the vxlab CLI/API unit tests: small pnode inventories written to tmp_path."""
import pytest

from vxlab_test_helpers import write


@pytest.fixture
def ini_inventory(tmp_path):
    """INI pnode inventory with group_vars and host_vars; p2 listed first, p1 templated."""
    inv = tmp_path / "inv"
    write(str(inv / "hosts.ini"), """
        [pnodes]
        p2 ansible_host=192.168.50.12
        p1 ansible_host=192.168.50.11 vxlab_vnodes="{{ 2 + 3 }}"

        [others]
        x1 ansible_host=192.168.50.99
        """)
    write(str(inv / "group_vars" / "pnodes.yml"), """
        vxlab_platform: demo
        vxlab_vnodes_per_pnode: 4
        vxlab_ssh_key: /keys/demo_ed25519
        """)
    write(str(inv / "host_vars" / "p2.yml"), """
        ansible_user: admin
        ansible_port: 2222
        ansible_ssh_private_key_file: /keys/pnode_ed25519
        ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
        """)
    return str(inv / "hosts.ini")


@pytest.fixture
def yaml_inventory(tmp_path):
    """YAML pnode inventory in route mode, three pnodes."""
    return write(str(tmp_path / "yinv" / "hosts.yml"), """
        all:
          children:
            pnodes:
              vars:
                vxlab_platform: rt
                vxlab_vnodes_per_pnode: 3
                vxlab_control_access: route
                vxlab_vnode_network: 10.77.0.0/24
              hosts:
                a1: {ansible_host: 192.168.60.1}
                a2: {ansible_host: 192.168.60.2}
                a3: {ansible_host: 192.168.60.3, vxlab_vnodes: 2}
        """)
