"""The modules' diffs as a person reads them (``vxlab deploy/destroy/run --diff``).

A module's ``diff`` result is ``{"before", "after"}`` (with optional headers) or a list of them
(the ``dataplane`` module: one per step). :func:`entries` turns the diffs of one task result into
plain records; :func:`entry_lines` renders one record:

* dicts (what vxlab's modules report: one key per object or property) as ``+ key: after``,
  ``- key: before`` and ``~ key: before -> after``; an object that is itself a dict is shown one
  line per property that differs (``~ vnode:X.master: absent -> d-br``);
* texts (Ansible's own modules: files, templates) as a unified diff.

Each record shows at most :data:`MAX_LINES` lines, then how many more there were.
"""
import difflib
import json

#: lines of one record at most (a 39,852-vnode platform's ARP tables are one record)
MAX_LINES = 40
ABSENT = "absent"


def entries(task, diff):
    """``[{task, header, before, after}]`` of one task result's ``diff`` (empty ones left out)."""
    items = diff if isinstance(diff, list) else [diff]
    out = []
    for item in items:
        if not isinstance(item, dict):
            continue
        before, after = item.get("before"), item.get("after")
        if before in (None, "", {}, []) and after in (None, "", {}, []):
            continue
        header = item.get("after_header") or item.get("before_header") or ""
        out.append({"task": task, "header": str(header), "before": before, "after": after})
    return out


def _show(value):
    if value is None:
        return ABSENT
    if isinstance(value, str):  # one line: a key's trailing newline, several lines escaped
        value = value.rstrip("\n").replace("\n", "\\n")
        return value if value else '""'
    return json.dumps(value, sort_keys=True)


def _dict_lines(before, after, prefix=""):
    lines = []
    for key in sorted(set(before) | set(after), key=str):
        b, a = before.get(key), after.get(key)
        name = "%s%s" % (prefix, key)
        if b == a:
            continue
        if isinstance(b, dict) and isinstance(a, dict):
            lines.extend(_dict_lines(b, a, name + "."))
        elif key not in before:
            lines.append("+ %s: %s" % (name, _show(a)))
        elif key not in after:
            lines.append("- %s: %s" % (name, _show(b)))
        else:
            lines.append("~ %s: %s -> %s" % (name, _show(b), _show(a)))
    return lines


def _text_lines(before, after):
    b = "" if before is None else before if isinstance(before, str) else _show(before)
    a = "" if after is None else after if isinstance(after, str) else _show(after)
    return [line.rstrip("\n") for line in difflib.unified_diff(
        b.splitlines(True), a.splitlines(True), "before", "after", n=1)][2:]


def entry_lines(entry, limit=MAX_LINES):
    """The lines of one record (:func:`entries`), at most ``limit`` and a count of the rest."""
    before, after = entry["before"], entry["after"]
    if isinstance(before, dict) or isinstance(after, dict):
        lines = _dict_lines(before if isinstance(before, dict) else {},
                            after if isinstance(after, dict) else {})
    else:
        lines = _text_lines(before, after)
    if len(lines) > limit:
        lines = lines[:limit] + ["... (%d more)" % (len(lines) - limit)]
    return lines


def lines(diffs, limit=MAX_LINES):
    """``{host: [entry]}`` as text: per host and record (named by its step or task), its lines."""
    out = []
    for host in sorted(diffs):
        for entry in diffs[host]:
            body = entry_lines(entry, limit)
            if not body:
                continue
            title = entry["header"] or entry["task"]  # a dataplane step's name, or the task's
            out.append("--- %s: %s" % (host, title))
            out.extend("    " + line for line in body)
    return out
