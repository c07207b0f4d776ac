"""vxlab.testbed.bare: the bare pnode's start-up as data, the local source's flat repository
index made from real .deb files (built here with dpkg-deb), the role's defaults read once."""
import hashlib
import os
import shutil
import subprocess

import pytest

from vxlab import testbed as tb
from vxlab.testbed import bare


def test_the_sshd_start_is_a_constant_script_with_values_as_parameters():
    paths = tb.layout("ab", "/srv/vx")
    p = dict(tb.pnode_names("ab", 2)[1], sshd_config="/var/lib/vxlab-testbeds/ab/sshd/p2.conf")
    state = {"base": "/var/cache/vxlab/bare/vxlab-pnode-0/rootfs", "source": "/var/cache/vxlab/bare/source-1",
             "images": "/var/cache/vxlab/images"}
    argv = bare.sshd_argv(p, paths, state)
    assert argv[:8] == ["nsenter", "--net=/run/netns/vt-ab-p2", "unshare", "-m", "--propagation", "private",
                        "sh", "-c"]
    assert argv[8] == bare.SSHD_SCRIPT and argv[9] == "sh"
    assert argv[10:] == [p["sshd_config"], "vxlab-vt-ab-p2", state["base"], "/var/lib/vxlab-testbeds/ab/roots/p2",
                         paths["state_dir"], paths["keys"], paths["sshd_dir"], state["source"], state["images"]]
    # the marker names the pnode's /run/netns (how `testbed down` finds its processes), sshd is chrooted
    assert 'mount -t tmpfs -o mode=0755,size=1m "$2" "$R/run/netns"' in bare.SSHD_SCRIPT
    assert bare.SSHD_SCRIPT.rstrip().endswith('exec chroot "$R" /usr/sbin/sshd -D -e -f "$1"')
    again = bare.restart_argv(p, paths, "/proc/42/ns/mnt")
    assert again[:5] == ["nsenter", "--net=/run/netns/vt-ab-p2", "--mount=/proc/42/ns/mnt", "chroot",
                         "/var/lib/vxlab-testbeds/ab/roots/p2/root"]


def test_the_source_holds_what_pnode_prepare_installs():
    wanted = bare.prepare_defaults()
    assert "iproute2" in wanted["system"] and "lxc" in wanted["system"]
    assert any(p.startswith("pyroute2==") for p in wanted["pip"])
    base = "/var/cache/vxlab/bare/vxlab-pnode-0/rootfs"
    assert bare.source_key(base, wanted) == bare.source_key(base, dict(wanted))
    assert bare.source_key(base, wanted) != bare.source_key(base, {"system": ["lxc"], "pip": wanted["pip"]})


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb is not installed")
def test_packages_index_of_real_debs(tmp_path):
    debs = tmp_path / "debs"
    debs.mkdir()
    for name, version in (("vxlab-probe-a", "1.0"), ("vxlab-probe-b", "2.3-1")):
        pkg = tmp_path / name
        (pkg / "DEBIAN").mkdir(parents=True)
        (pkg / "DEBIAN" / "control").write_text(
            "Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: vxlab <vxlab@example.org>\n"
            "Description: probe\n a package made by a test\n" % (name, version))
        subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(pkg), str(debs / ("%s.deb" % name))],
                       check=True, capture_output=True)
    (debs / "notes.txt").write_text("not a package")
    text = bare.packages_index(str(debs))
    stanzas = text.strip().split("\n\n")
    assert len(stanzas) == 2
    first = dict(line.split(": ", 1) for line in stanzas[0].splitlines() if not line.startswith(" "))
    assert first["Package"] == "vxlab-probe-a" and first["Filename"] == "./vxlab-probe-a.deb"
    data = (debs / "vxlab-probe-a.deb").read_bytes()
    assert int(first["Size"]) == len(data) == os.path.getsize(debs / "vxlab-probe-a.deb")
    assert first["SHA256"] == hashlib.sha256(data).hexdigest()
    assert first["MD5sum"] == hashlib.md5(data).hexdigest()
    assert "Version: 2.3-1" in stanzas[1]
