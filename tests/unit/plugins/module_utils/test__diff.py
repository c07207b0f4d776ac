"""DifferenceTracker as data: changed, diff and check-only records."""
from ansible_collections.vxlab.emulation.plugins.module_utils._diff import DifferenceTracker


def test_empty_tracker_is_unchanged():
    t = DifferenceTracker()
    assert not t.changed and t.diff() == {"before": {}, "after": {}} and len(t) == 0


def test_only_differing_records_count_and_show():
    t = DifferenceTracker()
    assert t.add("mtu", 1500, 1450) is True
    assert t.add("up", True, True) is False
    assert t.changed and t.has("mtu") and not t.has("up")
    assert t.diff() == {"before": {"mtu": 1500}, "after": {"mtu": 1450}}
    assert t.diff(only_changed=False) == {"before": {"mtu": 1500, "up": True},
                                          "after": {"mtu": 1450, "up": True}}
    assert t.differences() == [("mtu", 1500, 1450)]


def test_inactive_records_never_change_anything():
    t = DifferenceTracker()
    assert t.add("ageing_time", None, 3600, active=False) is False
    assert not t.changed and t.diff() == {"before": {}, "after": {}}


def test_values_are_copied_when_recorded():
    t = DifferenceTracker()
    before = ["10.0.0.1/24"]
    t.add("addresses", before, [])
    before.append("10.0.0.2/24")
    assert t.diff()["before"]["addresses"] == ["10.0.0.1/24"]


def test_merge_prefixes_keys():
    a, b = DifferenceTracker(), DifferenceTracker()
    b.add("mac", "02:00:00:00:00:01", "02:00:00:00:00:02")
    a.merge(b, prefix="vnode:x.")
    assert a.diff() == {"before": {"vnode:x.mac": "02:00:00:00:00:01"},
                        "after": {"vnode:x.mac": "02:00:00:00:00:02"}}
