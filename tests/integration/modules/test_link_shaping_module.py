"""vxlab.emulation.link_shaping for real (root): a 10 mbit limit measured with iperf3 between two
vnodes, changed and removed idempotently, check mode, ingress shaping on the host side, and netem
(delay) either measured or -- on a kernel without netem -- one clear error with nothing changed."""
import json
import os
import signal
import subprocess
import time

import pytest

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces, netlink, tc)"),
]

NET = "10.%d.0" % (160 + os.getpid() % 50)


@pytest.fixture
def two_vnodes(vx, netns_factory):
    """A pnode namespace with a bridge and two vnode namespaces on it (veth eth0 <-> host_if)."""
    pnode = netns_factory("p")
    vx.ip("-n", pnode, "link", "add", "br0", "type", "bridge")
    vx.ip("-n", pnode, "link", "set", "br0", "up")
    vnodes = []
    for i in (1, 2):
        name = netns_factory("v")
        host_if = vx.unique("h")
        vx.ip("-n", pnode, "link", "add", host_if, "type", "veth", "peer", "name", "eth0", "netns", name)
        vx.ip("-n", pnode, "link", "set", host_if, "master", "br0", "up")
        vx.ip("-n", name, "addr", "add", "%s.%d/24" % (NET, i + 1), "dev", "eth0")
        vx.ip("-n", name, "link", "set", "eth0", "up")
        vnodes.append({"name": name, "host_if": host_if, "address": "%s.%d" % (NET, i + 1)})
    return pnode, vnodes


def qdisc(ns, dev):
    out = subprocess.run(["tc", "-j", "-n", ns, "qdisc", "show", "dev", dev], stdout=subprocess.PIPE,
                         universal_newlines=True, check=True).stdout
    return [(q["kind"], q["handle"]) for q in json.loads(out)]


def iperf(client, server):
    """Mbit/s from vnode ``client`` to vnode ``server`` (3 s); the server is ours, killed by PID."""
    srv = subprocess.Popen(["ip", "netns", "exec", server["name"], "iperf3", "-s", "-1", "-B",
                            server["address"]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        out = subprocess.run(["ip", "netns", "exec", client["name"], "iperf3", "-c", server["address"],
                              "-t", "3", "-J"], stdout=subprocess.PIPE, universal_newlines=True,
                             timeout=30, check=True).stdout
        return json.loads(out)["end"]["sum_received"]["bits_per_second"] / 1e6
    finally:
        if srv.poll() is None:
            os.kill(srv.pid, signal.SIGTERM)
        srv.wait(timeout=10)


def test_rate_limit_measured_changed_removed(vx, two_vnodes):
    pnode, (a, b) = two_vnodes
    vnodes = [{"name": v["name"], "host_if": v["host_if"]} for v in (a, b)]
    args = {"platform": "tshape", "netns": pnode, "vnodes": vnodes,
            "shaping": {a["name"]: {"rate": "10mbit"}}}
    r = vx.run_module("link_shaping", args)
    assert r["changed"] is True and r["settings"] == {a["name"]: {"rate": 10000000}}
    assert r["diff"]["after"] == {"%s:out" % a["name"]: "tbf 10mbit"}
    assert qdisc(a["name"], "eth0") == [("tbf", "7a1:")]
    mbit = iperf(a, b)
    print("iperf3 through a 10mbit limit: %.2f Mbit/s" % mbit)
    assert 8.0 <= mbit <= 11.0, mbit
    # the same limit written differently changes nothing
    assert vx.run_module("link_shaping", dict(args, shaping={a["name"]: {"rate": "10000kbit"}}))["changed"] is False

    # change it (check mode first), then shape the way in on the host side
    changed = dict(args, shaping={a["name"]: {"rate": "20mbit", "ingress_rate": "5mbit"}})
    r = vx.run_module("link_shaping", changed, check=True)
    assert r["changed"] is True and qdisc(pnode, a["host_if"])[0][0] == "noqueue"
    r = vx.run_module("link_shaping", changed)
    assert r["diff"] == {"before": {"%s:out" % a["name"]: "tbf 10mbit", "%s:in" % a["name"]: "none"},
                         "after": {"%s:out" % a["name"]: "tbf 20mbit", "%s:in" % a["name"]: "tbf 5mbit"}}
    assert qdisc(pnode, a["host_if"]) == [("tbf", "7a1:")]
    assert vx.run_module("link_shaping", changed)["changed"] is False

    # removed: the default qdiscs come back
    r = vx.run_module("link_shaping", dict(args, shaping={}))
    assert r["changed"] is True and r["shaped"] == []
    assert qdisc(a["name"], "eth0")[0][0] == "noqueue" and qdisc(pnode, a["host_if"])[0][0] == "noqueue"
    assert vx.run_module("link_shaping", dict(args, shaping={}))["changed"] is False

    # a root qdisc vxlab did not make is refused, not replaced
    subprocess.run(["tc", "-n", b["name"], "qdisc", "add", "dev", "eth0", "root", "handle", "5:", "tbf",
                    "rate", "1mbit", "burst", "10k", "latency", "50ms"], check=True)
    r = vx.run_module("link_shaping", dict(args, shaping={b["name"]: {"rate": "2mbit"}}), expect_fail=True)
    assert "refusing to replace it" in r["msg"] and qdisc(b["name"], "eth0") == [("tbf", "5:")]


def test_netem_delay_or_clear_error(vx, two_vnodes):
    pnode, (a, b) = two_vnodes
    args = {"platform": "tshape", "netns": pnode,
            "vnodes": [{"name": v["name"], "host_if": v["host_if"]} for v in (a, b)],
            "shaping": {b["name"]: {"rate": "10mbit"}, a["name"]: {"rate": "10mbit", "delay": "20ms"}}}
    try:
        r = vx.run_module("link_shaping", args, expect_fail=True)
    except AssertionError:  # it succeeded: this kernel has netem
        r = None
    if r is not None:
        assert "qdisc netem is not available in this kernel" in r["msg"]
        # nothing was changed: the device needing netem went first and was rolled back
        assert qdisc(a["name"], "eth0")[0][0] == "noqueue" and qdisc(b["name"], "eth0")[0][0] == "noqueue"
        pytest.skip("this kernel has no netem: %s (the netem plans are unit-tested as data)" % r["msg"])
    assert qdisc(a["name"], "eth0") == [("tbf", "7a1:"), ("netem", "7a2:")]
    out = subprocess.run(["ip", "netns", "exec", a["name"], "ping", "-c", "3", "-i", "0.2", b["address"]],
                         stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    avg = float(out.strip().splitlines()[-1].split("=")[1].split("/")[1])
    assert avg >= 19.0, out
    assert vx.run_module("link_shaping", args)["changed"] is False
