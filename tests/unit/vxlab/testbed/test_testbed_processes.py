"""vxlab.testbed.processes: recognising a pnode's mount namespace by its marker (pure)."""
from vxlab import testbed as tb


def test_mountinfo_markers():
    text = "\n".join([
        "22 1 0:21 / /sys rw,nosuid - sysfs sysfs rw",
        "69 49 0:42 / /run/netns rw,relatime - tmpfs vxlab-vt-ab-p1 rw,size=1024k,mode=755",
        "70 49 0:43 / /run/netns rw,relatime - tmpfs vxlab-vt-cd-p1 rw",
        "71 49 0:44 / /run/other rw - tmpfs vxlab-vt-ab-p2 rw",
        "72 49 0:45 / /run/netns rw - nsfs vxlab-vt-ab-p2 rw",
        "garbage",
    ])
    assert tb.mountinfo_markers(text, {"vxlab-vt-ab-p1", "vxlab-vt-ab-p2"}) == {"vxlab-vt-ab-p1"}
    assert tb.mountinfo_markers(text, {"vxlab-vt-zz-p1"}) == set()
