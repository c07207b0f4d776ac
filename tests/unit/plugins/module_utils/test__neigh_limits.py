"""neigh_limits logic as data: names, validation, normalisation, the pure plan (no root).

The last tests run observe -> compute -> apply against a directory tree shaped like
/proc/sys (net/ipv4/neigh and net/core), so the whole cycle is checked without touching the machine.
"""
import json
import os

import pytest

from ansible_collections.vxlab.emulation.plugins.module_utils import _neigh_limits as a

DEFAULTS = {"gc_thresh1": "128", "gc_thresh2": "512", "gc_thresh3": "1024",
            "base_reachable_time_ms": "30000", "gc_stale_time": "60"}


def want(**kw):
    params = {"interfaces": [], "persist": "auto", "platform": "demo", "state": "present",
              "sysctl_file": "/etc/sysctl.d/60-vxlab-demo.conf", "state_dir": "/var/lib/vxlab/demo"}
    params.update(kw)
    return a.validate(params)


def seen(has_default=True, interfaces=(), values=None, sysctl_file=None, saved=None):
    vals = {}
    if has_default:
        vals.update((a.sysctl_name("default", k), v) for k, v in DEFAULTS.items())
    for dev in interfaces:
        vals[a.sysctl_name(dev, "base_reachable_time_ms")] = "30000"
        vals[a.sysctl_name(dev, "gc_stale_time")] = "60"
    vals.update(values or {})
    return {"has_default": has_default, "interfaces": dict((d, True) for d in interfaces),
            "values": vals, "sysctl_file": sysctl_file, "saved": saved}


# -- names


@pytest.mark.parametrize("dev, key, name", [
    ("default", "gc_thresh3", "net.ipv4.neigh.default.gc_thresh3"),
    ("vxlab-br", "gc_stale_time", "net.ipv4.neigh.vxlab-br.gc_stale_time"),
    ("eth0.100", "base_reachable_time_ms", "net.ipv4.neigh.eth0/100.base_reachable_time_ms"),
])
def test_sysctl_names_round_trip(dev, key, name):
    assert a.sysctl_name(dev, key) == name
    assert a.parse_sysctl_name(name) == (dev, key)
    assert a.proc_path(name) == "/proc/sys/net/ipv4/neigh/%s/%s" % (dev, key)


# -- validation


def test_validate_defaults_follow_platform():
    w = a.validate({"platform": "lab"})
    assert w["sysctl_file"] == "/etc/sysctl.d/60-vxlab-lab.conf"
    assert w["state_dir"] == "/var/lib/vxlab/lab"
    assert w["interfaces"] == [] and w["persist"] == "auto" and w["state"] == "present"


def test_validate_dedupes_interfaces():
    assert want(interfaces=["br0", "eth0", "br0"])["interfaces"] == ["br0", "eth0"]


@pytest.mark.parametrize("params, needle", [
    ({"gc_thresh1": 600, "gc_thresh2": 512}, "gc_thresh1=600 is larger than gc_thresh2=512"),
    ({"gc_thresh2": 2048, "gc_thresh3": 1024}, "gc_thresh2=2048 is larger than gc_thresh3=1024"),
    ({"gc_thresh1": 4096, "gc_thresh3": 1024}, "gc_thresh1=4096 is larger than gc_thresh3=1024"),
    ({"gc_thresh3": -1}, "gc_thresh3=-1"),
    ({"gc_thresh3": True}, "must be an integer"),
    ({"base_reachable_time_ms": 0}, "base_reachable_time_ms=0"),
    ({"gc_stale_time": 10 ** 7}, "gc_stale_time=10000000"),
    ({"interfaces": ["a" * 16]}, "interfaces"),
    ({"interfaces": ["default"]}, "'default'"),
    ({"interfaces": ["a/b"]}, "'a/b'"),
    ({"platform": "Lab"}, "platform='Lab'"),
    ({"sysctl_file": "relative.conf"}, "sysctl_file='relative.conf'"),
    ({"state_dir": "/a/../b"}, "state_dir='/a/../b'"),
    ({"persist": "maybe"}, "persist='maybe'"),
])
def test_validate_names_the_bad_value(params, needle):
    with pytest.raises(a.NeighLimitsError) as exc:
        want(**params)
    assert needle in str(exc.value)


# -- normalisation


@pytest.mark.parametrize("name, current, target, equal", [
    ("net.ipv4.neigh.default.gc_thresh3", "1024\n", 1024, True),
    ("net.ipv4.neigh.default.gc_thresh3", " 1024 ", "1024", True),
    ("net.ipv4.neigh.default.gc_thresh3", "1025", 1024, False),
    # the kernel keeps it in ticks: 30001 reads back as 30004 at HZ=250
    ("net.ipv4.neigh.br0.base_reachable_time_ms", "30004", 30001, True),
    ("net.ipv4.neigh.br0.base_reachable_time_ms", "30010", 30000, False),
    ("net.ipv4.neigh.br0.gc_stale_time", "61", 60, False),
    ("net.ipv4.neigh.br0.gc_stale_time", None, 60, False),
])
def test_same_value(name, current, target, equal):
    assert a.same_value(name, current, target) is equal


# -- the plan


def test_initial_namespace_plan_writes_differences_saves_originals_and_persists():
    w = want(gc_thresh1=1024, gc_thresh2=4096, gc_thresh3=8192, gc_stale_time=3600,
             interfaces=["br0"])
    plan = a.compute(w, seen(interfaces=["br0"]))
    assert plan["gc_thresh_settable"] is True
    assert plan["writes"] == [
        ("net.ipv4.neigh.br0.gc_stale_time", 3600),
        ("net.ipv4.neigh.default.gc_stale_time", 3600),
        ("net.ipv4.neigh.default.gc_thresh1", 1024),
        ("net.ipv4.neigh.default.gc_thresh2", 4096),
        ("net.ipv4.neigh.default.gc_thresh3", 8192),
    ]
    assert plan["save"] == {"net.ipv4.neigh.br0.gc_stale_time": 60,
                            "net.ipv4.neigh.default.gc_stale_time": 60,
                            "net.ipv4.neigh.default.gc_thresh1": 128,
                            "net.ipv4.neigh.default.gc_thresh2": 512,
                            "net.ipv4.neigh.default.gc_thresh3": 1024}
    assert plan["file"].splitlines()[2:] == [
        "net.ipv4.neigh.default.gc_thresh1 = 1024",
        "net.ipv4.neigh.default.gc_thresh2 = 4096",
        "net.ipv4.neigh.default.gc_thresh3 = 8192",
        "net.ipv4.neigh.default.gc_stale_time = 3600",
    ]
    assert plan["file"].startswith(a.FILE_MARKER)
    diff = plan["tracker"].diff()
    assert diff["before"]["net.ipv4.neigh.default.gc_thresh3"] == 1024
    assert diff["after"]["net.ipv4.neigh.default.gc_thresh3"] == 8192
    assert diff["before"]["sysctl_file"] is None
    assert plan["warnings"] == []


def test_plan_is_empty_when_applied():
    w = want(gc_thresh3=8192, base_reachable_time_ms=30001, interfaces=["br0"])
    content = a.render_file("demo", {"net.ipv4.neigh.default.gc_thresh3": 8192,
                                     "net.ipv4.neigh.default.base_reachable_time_ms": 30001})
    s = seen(interfaces=["br0"], sysctl_file=content,
             values={"net.ipv4.neigh.default.gc_thresh3": "8192",
                     "net.ipv4.neigh.default.base_reachable_time_ms": "30004",
                     "net.ipv4.neigh.br0.base_reachable_time_ms": "30004"})
    plan = a.compute(w, s)
    assert plan["writes"] == [] and plan["file"] is None and plan["save"] is None
    assert not plan["tracker"].changed
    assert plan["targets"]["net.ipv4.neigh.default.gc_thresh3"] == 8192


def test_originals_saved_only_once():
    w = want(gc_thresh3=8192)
    saved = {"version": 1, "sysctls": {"net.ipv4.neigh.default.gc_thresh3": 1024}}
    plan = a.compute(w, seen(values={"net.ipv4.neigh.default.gc_thresh3": "4096"}, saved=saved))
    assert plan["writes"] == [("net.ipv4.neigh.default.gc_thresh3", 8192)]
    assert plan["save"] is None


def test_partial_thresholds_checked_against_current_values():
    with pytest.raises(a.NeighLimitsError) as exc:
        a.compute(want(gc_thresh3=256), seen())  # current thresh2 is 512
    assert "128, 512, 256" in str(exc.value)


def test_child_namespace_sets_interfaces_only_and_warns():
    w = want(gc_thresh1=1024, gc_thresh2=4096, gc_thresh3=8192, base_reachable_time_ms=600000,
             gc_stale_time=3600, interfaces=["eth0"], persist="yes")
    plan = a.compute(w, seen(has_default=False, interfaces=["eth0"]))
    assert plan["gc_thresh_settable"] is False
    assert plan["writes"] == [("net.ipv4.neigh.eth0.base_reachable_time_ms", 600000),
                              ("net.ipv4.neigh.eth0.gc_stale_time", 3600)]
    assert plan["file"] is None
    assert any("global to the machine" in x for x in plan["warnings"])
    assert any("persist=yes ignored" in x for x in plan["warnings"])


def test_missing_interface_fails():
    s = seen(interfaces=["br0"])
    s["interfaces"]["nope0"] = False
    with pytest.raises(a.NeighLimitsError) as exc:
        a.compute(want(gc_stale_time=10, interfaces=["br0", "nope0"]), s)
    assert "nope0 does not exist" in str(exc.value)


def test_missing_interface_in_check_mode_is_one_to_be_made():
    """The runner's check-mode rule: an interface an earlier step would make is a warning, and
    its settings are reported as to be written."""
    s = seen(interfaces=["br0"])
    s["interfaces"]["nope0"] = False
    plan = a.compute(want(gc_stale_time=10, interfaces=["br0", "nope0"]), s, check_mode=True)
    assert plan["warnings"] == ["interfaces: nope0 does not exist (yet)"]
    assert ("net.ipv4.neigh.nope0.gc_stale_time", 10) in plan["writes"]
    assert plan["tracker"].has("net.ipv4.neigh.nope0.gc_stale_time")


def test_foreign_sysctl_file_is_never_replaced():
    with pytest.raises(a.NeighLimitsError) as exc:
        a.compute(want(gc_thresh3=8192), seen(sysctl_file="net.core.somaxconn = 1\n"))
    assert "not written by vxlab" in str(exc.value)


def test_persist_no_removes_our_file_only():
    ours = a.render_file("demo", {"net.ipv4.neigh.default.gc_thresh3": 1024})
    plan = a.compute(want(persist="no"), seen(sysctl_file=ours))
    assert plan["file"] is False and plan["tracker"].changed
    plan = a.compute(want(persist="no"), seen())
    assert plan["file"] is None and not plan["tracker"].changed


def test_absent_restores_saved_values_and_drops_files():
    saved = {"version": 1, "sysctls": {"net.ipv4.neigh.default.gc_thresh3": 1024,
                                       "net.ipv4.neigh.gone0.gc_stale_time": 60,
                                       "net.ipv4.neigh.default.gc_stale_time": 60}}
    s = seen(saved=saved, sysctl_file=a.render_file("demo", {}),
             values={"net.ipv4.neigh.default.gc_thresh3": "8192",
                     "net.ipv4.neigh.gone0.gc_stale_time": None})
    plan = a.compute(want(state="absent"), s)
    assert plan["writes"] == [("net.ipv4.neigh.default.gc_thresh3", 1024)]
    assert plan["file"] is False and plan["save"] is False
    assert plan["targets"] == {"net.ipv4.neigh.default.gc_thresh3": 1024,
                               "net.ipv4.neigh.default.gc_stale_time": 60}
    # nothing saved, nothing persisted: nothing to do
    plan = a.compute(want(state="absent"), seen())
    assert not plan["tracker"].changed and plan["writes"] == []


# -- the whole cycle on a directory tree shaped like /proc/sys


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / a.NEIGH_SUBDIR
    for dev in ("default", "br0"):
        (root / dev).mkdir(parents=True)
        for key, value in DEFAULTS.items():
            if dev == "default" or key in a.AGING_KEYS:
                (root / dev / key).write_text(value + "\n")
    (tmp_path / "net" / "core").mkdir()
    (tmp_path / "net" / "core" / "netdev_max_backlog").write_text("1000\n")
    return tmp_path


def _cycle(tree, **params):
    w = want(sysctl_file=str(tree / "sysctl.d" / "60-vxlab-demo.conf"),
             state_dir=str(tree / "state"), **params)
    s = a.observe(w, root=str(tree))
    plan = a.compute(w, s)
    a.apply(w, s, plan, root=str(tree))
    return plan


def test_cycle_apply_then_unchanged_then_absent_restores(tree):
    params = dict(gc_thresh1=1024, gc_thresh2=4096, gc_thresh3=8192, gc_stale_time=3600,
                  interfaces=["br0"])
    assert _cycle(tree, **params)["tracker"].changed
    assert (tree / a.NEIGH_SUBDIR / "default" / "gc_thresh3").read_text() == "8192\n"
    assert (tree / a.NEIGH_SUBDIR / "br0" / "gc_stale_time").read_text() == "3600\n"
    conf = (tree / "sysctl.d" / "60-vxlab-demo.conf").read_text()
    assert "net.ipv4.neigh.default.gc_thresh3 = 8192" in conf
    saved = json.loads((tree / "state" / a.STATE_FILE).read_text())
    assert saved["sysctls"]["net.ipv4.neigh.default.gc_thresh3"] == 1024
    assert not _cycle(tree, **params)["tracker"].changed
    assert _cycle(tree, state="absent")["tracker"].changed
    for dev, key, value in (("default", "gc_thresh3", "1024"), ("default", "gc_thresh1", "128"),
                            ("br0", "gc_stale_time", "60")):
        assert (tree / a.NEIGH_SUBDIR / dev / key).read_text().strip() == value
    assert not os.path.exists(tree / "sysctl.d" / "60-vxlab-demo.conf")
    assert not os.path.exists(tree / "state" / a.STATE_FILE)
    assert not _cycle(tree, state="absent")["tracker"].changed


# -- policy raise: a kernel shared by several platforms (one-machine testbed)


def test_raise_policy_only_raises_shared_defaults():
    w = want(policy="raise", gc_thresh1=256, gc_thresh2=1024, gc_thresh3=8192, persist="no",
             base_reachable_time_ms=600000, gc_stale_time=30, interfaces=["br0"])
    # another platform already raised thresh3 beyond ours and gc_stale_time to 3600
    s = seen(interfaces=["br0"], values={"net.ipv4.neigh.default.gc_thresh3": "16384",
                                         "net.ipv4.neigh.default.gc_stale_time": "3600"})
    plan = a.compute(w, s)
    assert plan["writes"] == [
        ("net.ipv4.neigh.br0.base_reachable_time_ms", 600000),
        ("net.ipv4.neigh.br0.gc_stale_time", 30),  # an interface of ours: exact
        ("net.ipv4.neigh.default.base_reachable_time_ms", 600000),
        ("net.ipv4.neigh.default.gc_thresh1", 256),
        ("net.ipv4.neigh.default.gc_thresh2", 1024),
    ]
    assert plan["targets"]["net.ipv4.neigh.default.gc_thresh3"] == 16384
    assert plan["targets"]["net.ipv4.neigh.default.gc_stale_time"] == 3600
    # applied: nothing more to do, even though the wanted thresh3 is lower than the current one
    done = dict((n, str(v)) for n, v in plan["targets"].items())
    assert not a.compute(w, seen(interfaces=["br0"], values=done))["tracker"].changed


def test_raise_policy_keeps_order_with_raised_current_values():
    w = want(policy="raise", gc_thresh1=1024, gc_thresh2=4096, gc_thresh3=8192)
    s = seen(values={"net.ipv4.neigh.default.gc_thresh1": "5000",
                     "net.ipv4.neigh.default.gc_thresh2": "6000",
                     "net.ipv4.neigh.default.gc_thresh3": "7000"})
    plan = a.compute(w, s)
    assert plan["writes"] == [("net.ipv4.neigh.default.gc_thresh3", 8192)]
    assert plan["save"] == {"net.ipv4.neigh.default.gc_thresh3": 7000}


def test_raise_policy_absent_never_lowers_shared_defaults():
    saved = {"version": 1, "sysctls": {"net.ipv4.neigh.default.gc_thresh3": 1024,
                                       "net.ipv4.neigh.br0.gc_stale_time": 60}}
    s = seen(interfaces=["br0"], saved=saved,
             values={"net.ipv4.neigh.default.gc_thresh3": "8192",
                     "net.ipv4.neigh.br0.gc_stale_time": "3600"})
    plan = a.compute(want(policy="raise", state="absent"), s)
    assert plan["writes"] == [("net.ipv4.neigh.br0.gc_stale_time", 60)]
    assert plan["kept"] == {"net.ipv4.neigh.default.gc_thresh3": 8192}
    assert plan["save"] is False  # the saved originals file goes


def test_two_platforms_sharing_a_kernel_never_lower_each_others_limits(tree):
    """A raises, B finds A's value (no write), A leaves: B still has A's limits."""
    a_params = dict(policy="raise", persist="no", gc_thresh1=1024, gc_thresh2=4096, gc_thresh3=8192)
    b_params = dict(policy="raise", persist="no", gc_thresh1=512, gc_thresh2=2048, gc_thresh3=4096)
    assert _cycle(tree, **a_params)["writes"]
    b = want(sysctl_file=str(tree / "b.conf"), state_dir=str(tree / "b"), platform="demo", **b_params)
    bplan = a.compute(b, a.observe(b, root=str(tree)))
    assert bplan["writes"] == [] and not bplan["tracker"].changed
    assert _cycle(tree, policy="raise", state="absent")["kept"]["net.ipv4.neigh.default.gc_thresh3"] == 8192
    assert (tree / a.NEIGH_SUBDIR / "default" / "gc_thresh3").read_text().strip() == "8192"
    assert not os.path.exists(tree / "state" / a.STATE_FILE)


def test_policy_is_validated():
    with pytest.raises(a.NeighLimitsError, match="policy='lower'"):
        want(policy="lower")


# -- the input backlog (net.core.netdev_max_backlog): global, initial namespace only


def test_backlog_is_planned_saved_and_persisted_with_the_limits():
    w = want(gc_thresh3=8192, netdev_max_backlog=8000)
    plan = a.compute(w, seen(values={a.BACKLOG: "1000"}))
    assert (a.BACKLOG, 8000) in plan["writes"]
    assert plan["save"][a.BACKLOG] == 1000
    assert plan["file"].splitlines()[-1] == "net.core.netdev_max_backlog = 8000"
    assert plan["tracker"].diff()["before"][a.BACKLOG] == 1000


def test_backlog_raise_policy_never_lowers_and_absent_keeps_it():
    w = want(policy="raise", persist="no", netdev_max_backlog=8000)
    plan = a.compute(w, seen(values={a.BACKLOG: "20000"}))
    assert plan["writes"] == [] and plan["targets"][a.BACKLOG] == 20000
    saved = {"version": 1, "sysctls": {a.BACKLOG: 1000}}
    gone = a.compute(want(policy="raise", state="absent"), seen(saved=saved, values={a.BACKLOG: "8000"}))
    assert gone["writes"] == [] and gone["kept"] == {a.BACKLOG: 8000}


def test_backlog_in_a_child_namespace_warns_and_sets_nothing():
    plan = a.compute(want(netdev_max_backlog=8000), seen(has_default=False))
    assert plan["writes"] == [] and a.BACKLOG not in plan["targets"]
    assert "netdev_max_backlog not set" in plan["warnings"][0]


@pytest.mark.parametrize("value", [0, -5, True, "many"])
def test_backlog_validation_names_the_value(value):
    with pytest.raises(a.NeighLimitsError, match="netdev_max_backlog="):
        want(netdev_max_backlog=value)


def test_cycle_sets_then_restores_the_backlog(tree):
    path = tree / "net" / "core" / "netdev_max_backlog"
    assert _cycle(tree, netdev_max_backlog=4096)["tracker"].changed
    assert path.read_text() == "4096\n"
    assert not _cycle(tree, netdev_max_backlog=4096)["tracker"].changed
    assert _cycle(tree, state="absent")["tracker"].changed
    assert path.read_text().strip() == "1000"
