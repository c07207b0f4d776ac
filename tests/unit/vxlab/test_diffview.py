"""The modules' diffs as people read them (``vxlab deploy --diff``): records and lines."""
from vxlab import diffview


def test_entries_of_a_dataplane_result_keep_each_step():
    diff = [{"before_header": "bridge", "after_header": "bridge", "before": {"present": False},
             "after": {"present": True}},
            {"before_header": "vxlan", "after_header": "vxlan", "before": {}, "after": {}}]
    assert diffview.entries("Data plane", diff) == [
        {"task": "Data plane", "header": "bridge", "before": {"present": False}, "after": {"present": True}}]
    assert diffview.entries("t", {"before": "", "after": ""}) == []
    assert diffview.entries("t", "not a diff") == []


def test_dict_lines_name_objects_and_properties():
    entry = {"task": "t", "header": "vnodes",
             "before": {"vnode:a": {"master": None, "up": False}, "gone": 1, "same": 2, "route x": None},
             "after": {"vnode:a": {"master": "d-br", "up": False}, "new": [1, 2], "same": 2, "route x": "10.0.0.1"}}
    assert diffview.entry_lines(entry) == [
        "- gone: 1",
        "+ new: [1, 2]",
        "~ route x: absent -> 10.0.0.1",
        "~ vnode:a.master: absent -> d-br",
    ]


def test_text_diffs_are_unified_and_long_records_are_cut():
    entry = {"task": "copy", "header": "", "before": "a\nb\n", "after": "a\nc\n"}
    assert diffview.entry_lines(entry) == ["@@ -1,2 +1,2 @@", " a", "-b", "+c"]
    many = {"task": "t", "header": "", "before": {}, "after": dict(("k%03d" % i, i) for i in range(50))}
    lines = diffview.entry_lines(many)
    assert len(lines) == diffview.MAX_LINES + 1 and lines[-1] == "... (10 more)"


def test_lines_group_by_host_and_record():
    diffs = {"p2": [{"task": "T", "header": "", "before": {"x": 1}, "after": {"x": 2}}],
             "p1": [{"task": "T", "header": "bridge", "before": {"present": False}, "after": {"present": True}}]}
    assert diffview.lines(diffs) == ["--- p1: bridge", "    ~ present: false -> true",
                                     "--- p2: T", "    ~ x: 1 -> 2"]


def test_a_text_value_shows_on_one_line():
    entry = {"task": "t", "header": "vnodes", "before": {"authorized_keys": None},
             "after": {"authorized_keys": "ssh-ed25519 AAAA a\nssh-ed25519 BBBB b\n"}}
    assert diffview.entry_lines(entry) == ["~ authorized_keys: absent -> ssh-ed25519 AAAA a\\nssh-ed25519 BBBB b"]
