"""cgroup limits as data: mountinfo and /proc/PID/cgroup parsing, v1/v2 files and values, LXC keys."""
import pytest
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import cgroups as cg


V1 = {"cpu": 1, "cpuset": 1, "memory": 1}


V2 = {"cpu": 2, "cpuset": 2, "memory": 2}


MOUNTINFO_V1 = """\
25 20 0:22 / /sys/fs/cgroup rw - tmpfs tmpfs rw
26 25 0:23 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
27 25 0:24 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
28 25 0:25 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
29 25 0:26 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
30 25 0:27 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""


MOUNTINFO_V2 = "30 20 0:27 / /sys/fs/cgroup rw,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"


def test_parse_mountinfo_v1_and_v2():
    lay = cg.parse_mountinfo(MOUNTINFO_V1)
    assert lay["v1"]["cpu"] == "/sys/fs/cgroup/cpu" and lay["v1"]["memory"] == "/sys/fs/cgroup/memory"
    assert lay["v2"] == "/sys/fs/cgroup/unified"
    assert cg.controller_version(lay, "cpu", ("cpu",)) == 1
    lay2 = cg.parse_mountinfo(MOUNTINFO_V2)
    assert lay2 == {"v1": {}, "v2": "/sys/fs/cgroup"}
    assert cg.controller_version(lay2, "cpu", ("cpu", "memory")) == 2
    assert cg.controller_version(lay2, "cpuset", ("cpu",)) is None


def test_parse_proc_cgroup():
    text = "4:cpu:/lxc.payload.demo-1\n3:cpuacct:/lxc.payload.demo-1\n0::/lxc.payload.demo-1\n"
    pc = cg.parse_proc_cgroup(text)
    assert pc["cpu"] == "/lxc.payload.demo-1" and pc[""] == "/lxc.payload.demo-1"


def test_wanted_files_v1_v2():
    lim = cg.limits(cpu=0.25, cpuset="0", memory="256M")
    assert cg.wanted_files(lim, V1) == {
        ("cpu", "cpu.cfs_period_us"): "100000", ("cpu", "cpu.cfs_quota_us"): "25000",
        ("cpuset", "cpuset.cpus"): "0", ("memory", "memory.limit_in_bytes"): "268435456"}
    assert cg.wanted_files(lim, V2) == {
        ("cpu", "cpu.max"): "25000 100000", ("cpuset", "cpuset.cpus"): "0",
        ("memory", "memory.max"): "268435456"}
    none = cg.limits()
    assert cg.wanted_files(none, V1) == {("cpu", "cpu.cfs_period_us"): "100000",
                                         ("cpu", "cpu.cfs_quota_us"): "-1",
                                         ("memory", "memory.limit_in_bytes"): "-1"}
    assert cg.wanted_files(none, V2) == {("cpu", "cpu.max"): "max 100000", ("memory", "memory.max"): "max"}


def test_lxc_config_lines_only_set_limits():
    assert cg.lxc_config_lines(cg.limits(), V1) == []
    assert cg.lxc_config_lines(cg.limits(cpu=1.5), V1) == [
        "lxc.cgroup.cpu.cfs_period_us = 100000", "lxc.cgroup.cpu.cfs_quota_us = 150000"]
    assert cg.lxc_config_lines(cg.limits(cpu=0.5, memory="1G"), V2) == [
        "lxc.cgroup2.cpu.max = 50000 100000", "lxc.cgroup2.memory.max = 1073741824"]


def test_limits_validation_and_missing_controller():
    assert cg.parse_size("m", "512MiB") == 512 * 1024 ** 2 and cg.parse_size("m", 8 << 20) == 8 << 20
    for bad, match in ((("cpu", 0), "between"), (("cpu", "x"), "fraction"), (("cpu", True), "fraction"),
                       (("memory", "1M"), "at least 4M"), (("memory", "lots"), "size"),
                       (("cpuset", "0-"), "CPU list")):
        with pytest.raises(ValueError, match=match):
            cg.limits(**{bad[0]: bad[1]})
    with pytest.raises(cg.CgroupError, match="no memory cgroup controller"):
        cg.wanted_files(cg.limits(memory="64M"), {"cpu": 1})
    assert cg.normalise("memory.limit_in_bytes", "9223372036854771712\n") == "-1"
