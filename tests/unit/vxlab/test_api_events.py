"""vxlab.api: RunResult built from the events of a real ansible-runner run (local connection)."""
import json
import os

import pytest

from vxlab import api

from vxlab_test_helpers import write

PLAYBOOK = """
- name: Tiny play
  hosts: all
  gather_facts: false
  tasks:
    - name: unchanged
      ansible.builtin.command: "true"
      changed_when: false
    - name: changes
      ansible.builtin.command: "true"
    - name: skipped
      ansible.builtin.debug: {msg: never}
      when: false
    - name: fails on b
      ansible.builtin.fail: {msg: "boom {{ inventory_hostname }}"}
      when: inventory_hostname == 'b'
    - name: ignored failure
      ansible.builtin.command: "false"
      ignore_errors: true
    - name: loop with a failing item
      ansible.builtin.command: "{{ item }}"
      loop: ["true", "false"]
      when: inventory_hostname == 'a'
"""


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """Run the playbook once for real; keep the events the runner produced."""
    d = tmp_path_factory.mktemp("run")
    pb = write(str(d / "tiny.yml"), PLAYBOOK)
    python = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))), ".venv", "bin", "python")
    inv = write(str(d / "local.ini"), "a ansible_connection=local ansible_python_interpreter=%s\n"
                "b ansible_connection=local ansible_python_interpreter=%s\n" % (python, python))
    lines = []
    result = api.run_playbook(pb, inv, extra_vars={"unused": 1}, progress=lines.append,
                              quiet=True, keep_artifacts=True)
    events = []
    job_events = os.path.join(result.artifacts, "artifacts")
    for root, dummy, files in os.walk(job_events):
        if os.path.basename(root) == "job_events":
            for f in files:
                with open(os.path.join(root, f)) as fh:
                    events.append(json.load(fh))
    events.sort(key=lambda e: e["counter"])
    return result, events, lines


def test_result_counts_and_failures(recorded):
    result = recorded[0]
    assert result.rc == 2 and result.status == "failed" and not result.ok
    a, b = result.hosts["a"], result.hosts["b"]
    assert (b["failed"], b["changed"], b["unreachable"]) == (1, 1, 0)
    assert b["failures"] == [{"task": "fails on b", "msg": "boom b"}]
    assert a["ignored"] == 1
    assert a["failed"] == 1 and a["failures"][0]["task"] == "loop with a failing item"
    assert "1 items failed" in a["failures"][0]["msg"]
    d = result.to_dict()
    assert d["ok"] is False and d["hosts"]["b"]["failures"][0]["msg"] == "boom b"
    json.dumps(d)


def test_result_from_recorded_events_matches_live_collection(recorded):
    result, events = recorded[:2]
    assert any(e["event"] == "playbook_on_stats" for e in events)
    again = api.result_from_events(events, result.rc, result.status, result.playbook)
    assert again.hosts == result.hosts
    assert again.ok is False


def test_events_without_stats_are_counted_from_host_events(recorded):
    result, events = recorded[:2]
    partial = [e for e in events if e["event"] != "playbook_on_stats"]
    r = api.result_from_events(partial, 0, "successful")
    assert r.hosts["b"]["failed"] == 1 and r.hosts["b"]["skipped"] >= 1
    assert not r.ok  # a failed host fails the run even with rc 0


def test_successful_run_is_ok(recorded):
    events = recorded[1]
    ok_events = [e for e in events if e["event"] in ("playbook_on_task_start", "runner_on_ok")]
    r = api.result_from_events(ok_events, 0, "successful")
    assert r.ok and r.hosts["a"]["ok"] >= 2 and r.hosts["a"]["changed"] >= 1


def test_progress_one_line_per_task_and_host_result(recorded):
    lines = recorded[2]
    assert lines[0] == "[tiny] PLAY Tiny play"
    assert any(line.startswith("[tiny] TASK changes (#2,") for line in lines)
    assert "[tiny]   a changed" in lines and "[tiny]   b changed" in lines
    assert "[tiny]   b FAILED: boom b" in lines
    assert "[tiny]   a failed (ignored)" in lines


def test_playbook_names(tmp_path):
    assert api.playbook_path("ping") == os.path.join(api.PLAYBOOKS, "ping.yml")
    with pytest.raises(FileNotFoundError):
        api.playbook_path("no-such-playbook")
    with pytest.raises(FileNotFoundError):
        api.playbook_path(str(tmp_path / "x.yml"))


def test_syntax_error_reports_messages(tmp_path):
    pb = write(str(tmp_path / "broken.yml"), "- hosts: all\n  tasks:\n    - no_such_module_x: {}\n")
    inv = write(str(tmp_path / "i.ini"), "a ansible_connection=local\n")
    r = api.run_playbook(pb, inv, quiet=True)
    assert r.rc != 0 and not r.ok and not r.hosts
    assert any("no_such_module_x" in m for m in r.messages)


DIFF_PLAYBOOK = """
- name: Diff play
  hosts: all
  gather_facts: false
  tasks:
    - name: a file that would change
      ansible.builtin.copy:
        dest: "{{ target }}"
        content: "one\\nthree\\n"
        mode: "0644"
"""


def test_diffs_are_collected_per_host_and_readable(tmp_path):
    """``run_playbook(check=True, diff=True)``: the module's diff arrives in ``RunResult.diffs``
    (and ``to_dict()["diffs"]``), and nothing was changed."""
    from vxlab import diffview

    target = write(str(tmp_path / "f.txt"), "one\ntwo\n")
    pb = write(str(tmp_path / "diff.yml"), DIFF_PLAYBOOK)
    python = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))), ".venv", "bin", "python")
    inv = write(str(tmp_path / "local.ini"), "a ansible_connection=local ansible_python_interpreter=%s\n" % python)
    result = api.run_playbook(pb, inv, extra_vars={"target": target}, check=True, diff=True, quiet=True)
    assert result.ok and result.changed == 1
    assert [e["task"] for e in result.diffs["a"]] == ["a file that would change"]
    assert any(line.strip() == "-two" for line in diffview.lines(result.diffs))
    assert result.to_dict()["diffs"]["a"][0]["after"] == "one\nthree\n"
    with open(target) as f:
        assert f.read() == "one\ntwo\n"
