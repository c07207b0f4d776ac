"""vxlab.check: sampling, the remote ping command, and a real (failing) check over loopback."""
import subprocess

import pytest

from vxlab import check as chk

from vxlab_test_helpers import write


def test_sample_is_spread_and_deterministic():
    items = list(range(10))
    assert chk.sample_of(items, 3) == [0, 4, 9] or chk.sample_of(items, 3) == [0, 5, 9]
    assert chk.sample_of(items, 3) == chk.sample_of(items, 3)
    assert chk.sample_of(items, 1) == [0]
    assert chk.sample_of(items, 20) == items
    assert chk.sample_of(items, 0) == [] and chk.sample_of([], 3) == []
    assert chk.sample_of(items, 2) == [0, 9]


@pytest.mark.parametrize("bad", ["10.0.0.1; reboot", "$(id)", "10.0.0.01", "::1", "1.2.3",
                                 "10.0.0.1 10.0.0.2"])
def test_ping_command_refuses_anything_but_ipv4(bad):
    with pytest.raises(ValueError):
        chk._ping_remote(["10.0.0.1", bad])


def test_ping_command_through_a_real_shell():
    """The words ssh joins are read by the remote shell exactly as sh reads them here."""
    remote = " ".join(chk._ping_remote(["127.0.0.1", "127.0.0.1"]))
    out = subprocess.run(["sh", "-c", remote], text=True, stdout=subprocess.PIPE,
                         timeout=30, check=False).stdout
    assert out.splitlines() == ["ok 127.0.0.1", "ok 127.0.0.1"]


def test_ssh_argv_is_a_list_without_shell():
    argv = chk.ssh_argv("/x/ssh_config", "v-1", ["true"])
    assert argv[:3] == ["ssh", "-F", "/x/ssh_config"] and argv[-3:] == ["v-1", "--", "true"]


def test_check_reports_unreachable_vnodes_per_pair(tmp_path):
    """vnode addresses on loopback where nothing answers SSH for them: everything must fail,
    and be reported per vnode and per pnode pair (no traffic leaves the machine)."""
    inv = write(str(tmp_path / "inv" / "hosts.yml"), """
        all:
          children:
            pnodes:
              vars:
                vxlab_platform: lo
                vxlab_vnodes_per_pnode: 2
                vxlab_control_access: route
                vxlab_vnode_network: 127.77.0.0/24
                vxlab_ssh_key: /nonexistent/key
              hosts:
                q1: {ansible_host: 127.0.0.11}
                q2: {ansible_host: 127.0.0.12}
        """)
    lines = []
    result = chk.check([inv], sample=2, progress=lines.append, parallel=4)
    assert result["ok"] is False
    assert result["ssh"]["ok"] == 0
    assert result["ssh"]["failed"] == ["lo-1", "lo-2", "lo-3", "lo-4"]
    assert all(result["ssh"]["errors"][n] for n in result["ssh"]["failed"])
    pairs = [(p["src_pnode"], p["dst_pnode"], p["ok"], p["failed"]) for p in result["pairs"]]
    assert pairs == [("q1", "q2", 0, 4), ("q2", "q1", 0, 4)]
    assert result["state_dir"] == str(tmp_path / "inv" / ".vxlab" / "lo")
    assert (tmp_path / "inv" / ".vxlab" / "lo" / "ssh_config").exists()
    assert any("ping q1 -> q2: 0 ok, 4 failed" in line for line in lines)


def test_check_can_ssh_into_a_sample_of_each_pnode(tmp_path):
    """--ssh-sample K: K vnodes per pnode, spread over it (thousands of vnodes)."""
    inv = write(str(tmp_path / "inv" / "hosts.yml"), """
        all:
          children:
            pnodes:
              vars:
                vxlab_platform: lo
                vxlab_vnodes_per_pnode: 5
                vxlab_control_access: route
                vxlab_vnode_network: 127.78.0.0/24
                vxlab_ssh_key: /nonexistent/key
              hosts:
                q1: {ansible_host: 127.0.0.11}
                q2: {ansible_host: 127.0.0.12}
        """)
    result = chk.check([inv], sample=0, parallel=4, ssh_sample=2)
    assert result["ssh"]["failed"] == ["lo-1", "lo-5", "lo-6", "lo-10"]
