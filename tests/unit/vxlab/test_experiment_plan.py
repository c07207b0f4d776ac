"""The experiment's pure parts: seeded spread subsets, schedule/resume, argv, output counting."""
import json
import shlex

import pytest

from vxlab import experiment as ex


def _pnodes(k=3, per=30):
    return {"p%d" % i: ["tb-%d" % (i * per + j + 1) for j in range(per)] for i in range(k)}


def test_spread_order_is_seeded_spread_and_nested():
    by = _pnodes()
    order = ex.spread_order(by, 7)
    assert order == ex.spread_order(by, 7)
    assert order != ex.spread_order(by, 8)
    assert sorted(order) == sorted(v for vs in by.values() for v in vs)
    owner = {v: p for p, vs in by.items() for v in vs}
    for n in (3, 10, 30, 60, 90):
        counts = {}
        for v in order[:n]:
            counts[owner[v]] = counts.get(owner[v], 0) + 1
        assert max(counts.values()) - min(counts.values()) <= 1  # spread over the pnodes
    assert set(ex.choose(order, 10, {})) <= set(ex.choose(order, 30, {}))  # nested


def test_choose_replaces_discarded_from_the_healthy_pool():
    order = ex.spread_order(_pnodes(), 1)
    first = ex.choose(order, 10, {})
    dead = {first[3]: {}}
    again = ex.choose(order, 10, dead)
    assert first[3] not in again and len(again) == 10
    assert again[:3] == first[:3] and again[-1] == order[10]
    assert ex.choose(order, 90, dead) is None


def test_schedule_skips_recorded_rows_and_read_records_survives_a_torn_line(tmp_path):
    path = tmp_path / "results.jsonl"
    rows = [{"type": "measurement", "n": 10, "rep": 1, "method": "clush", "valid": True},
            {"type": "measurement", "n": 10, "rep": 1, "method": "taktuk2", "valid": False},
            {"type": "discard", "node": "tb-3", "reason": "ssh probe failed"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"type": "measu')
    recs = ex.read_records(str(path))
    assert len(recs) == 3
    done = ex.done_keys(recs)
    assert done == {(10, 1, "clush")}
    plan = ex.schedule([10, 30], 2, ["clush", "taktuk2"], done)
    assert plan[0] == (10, 1, ["taktuk2"])  # the partial row is measured again
    assert len(plan) == 4 and sum(len(m) for dummy_n, dummy_r, m in plan) == 7
    assert set(ex.discards_of(recs)) == {"tb-3"}


def test_parameters_are_validated():
    assert ex.parse_sizes("60, 10,30,10") == [10, 30, 60]
    with pytest.raises(ex.ExperimentError, match="'x'"):
        ex.parse_sizes("10,x")
    with pytest.raises(ex.ExperimentError, match="0"):
        ex.parse_sizes("0")
    assert ex.parse_methods("taktuk3,clush") == ["taktuk3", "clush"]
    with pytest.raises(ex.ExperimentError, match="pdsh"):
        ex.parse_methods("clush,pdsh")
    with pytest.raises(ex.ExperimentError):
        ex.check_name("tb-1;rm")


def test_argv_and_remote_quoting_round_trip():
    tools = ex.Tools("/s d/st/ssh_config", "/var/lib/vxlab/tb/client/ssh_config", "/v/bin", fanout=16)
    nodes = ["tb-1", "tb-2", "tb-5"]
    env, argv = ex.method_argv("clush", nodes, tools)
    assert argv[:5] == ["/v/bin/clush", "-n", "-f", "16", "-t"]
    assert "tb-[1-2,5]" in argv and argv[-1] == "true && echo vxlab-ok"
    # the ssh options on the command line, no ClusterShell configuration directory
    assert argv[argv.index("-o") + 1] == "-F '/s d/st/ssh_config'" and env == {}
    env, argv = ex.method_argv("taktuk3", nodes, tools)
    assert argv[:4] == ["taktuk", "-s", "-d", "3"]
    # the connector reads the client file every pnode and vnode has at the same path
    assert argv[argv.index("-c") + 1] == "ssh -F /var/lib/vxlab/tb/client/ssh_config -o ConnectTimeout=15"
    slow = ex.Tools("/c", "/k", "/v/bin", connect_timeout=60)
    assert ex.method_argv("taktuk2", nodes, slow)[1][5] == "ssh -F /k -o ConnectTimeout=60"
    assert ex.method_argv("clush", nodes, slow)[1][5] == "60"
    with pytest.raises(ex.ExperimentError, match="--connect-timeout: 0"):
        ex.Tools("/c", "/k", "/v/bin", connect_timeout=0)
    assert argv[-5:] == ["broadcast", "exec", "[", "true", "]"]
    assert argv.count("-m") == 3
    env, argv = ex.method_argv("ansible", nodes, tools)
    # an inline host list (no inventory file on the launcher), names resolved by the ssh_config
    assert argv[argv.index("-i") + 1] == "tb-1,tb-2,tb-5," and "-l" not in argv
    assert env["ANSIBLE_SSH_ARGS"].startswith("-F '/s d/st/ssh_config' ")
    assert ex.method_argv("ansible", ["tb-1"], tools)[1][3] == "tb-1,"
    full = ex.launch_argv(env, argv, "tb-p1", "/s d/st/ssh_config")
    assert full[:3] == ["ssh", "-F", "/s d/st/ssh_config"] and full[-2] == "--"
    words = shlex.split(full[-1])  # what the launcher's shell sees
    assert words[:2] == ["sh", "-c"] and words[2] == ex.TIMING_SCRIPT
    assert words[words.index("env") + 1:][-len(argv):] == argv
    assert ex.launch_argv({}, ["true"], None, "x") == ["env", "true"]
    with pytest.raises(ex.ExperimentError):
        ex.method_argv("clush", ["a b"], tools)


def test_preflight_script_reports_missing_paths_and_commands(tmp_path):
    import subprocess

    present = tmp_path / "ssh_config"
    present.write_text("")
    words = [str(present), str(tmp_path / "nokey"), "sh", "vxlab-no-such-tool"]
    out = subprocess.run(["sh", "-c", ex.PREFLIGHT_SCRIPT, "vxlab-preflight"] + words,
                         stdout=subprocess.PIPE, text=True, check=True).stdout
    assert out.splitlines() == ["vxlab-missing %s" % (tmp_path / "nokey"),
                                "vxlab-missing vxlab-no-such-tool"]


def test_parse_timing():
    err = "noise\nvxlab-timing 100.250000000 103.750000000 0\n"
    assert ex.parse_timing(err) == (pytest.approx(3.5), 0)
    assert ex.parse_timing("nothing") == (None, None)
    assert ex.parse_drops(err) is None
    err = "vxlab-timing 100.25 103.75 1 5510024 5529482\n"
    assert ex.parse_timing(err) == (pytest.approx(3.5), 1)
    assert ex.parse_drops(err) == 19458


def test_timing_script_runs_the_tool_and_reports_backlog_drops():
    import subprocess

    proc = subprocess.run(["sh", "-c", ex.TIMING_SCRIPT, "vxlab-timed", "sh", "-c", "echo out; exit 3"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False)
    assert proc.returncode == 3 and proc.stdout == "out\n"
    words = proc.stderr.split()
    assert words[0] == "vxlab-timing" and len(words) == 6 and words[3] == "3"
    seconds, rc = ex.parse_timing(proc.stderr)
    assert rc == 3 and 0 <= seconds < 60
    # counters read from this machine's /proc/net/softnet_stat (hex there, decimal here)
    assert words[4].isdigit() and words[5].isdigit() and ex.parse_drops(proc.stderr) >= 0


def test_count_clush():
    nodes = ["tb-1", "tb-2", "tb-3", "tb-4"]
    out = "tb-1: vxlab-ok\ntb-3: vxlab-ok\ntb-9: vxlab-ok\n"
    err = ("tb-2: ssh: connect to host 10.0.0.3 port 22: No route to host\n"
           "clush: tb-2: exited with exit code 255\n")
    ok, failed = ex.count_clush(out, err, nodes)
    assert ok == {"tb-1", "tb-3"}
    assert failed == {"tb-2": "exit code 255", "tb-4": "no vxlab-ok line"}


def test_count_taktuk():
    nodes = ["tb-1", "tb-2", "tb-31", "tb-99"]
    out = ("tb-2: tb-99 (19638): connector > ssh: Could not resolve hostname tb-99\n"
           "tb-2: tb-99 (19638): state > Connection failed\n"
           "tb-2-2: true (19814): status > Exited with status 0\n"
           "tb-1-1: true (19816): status > Exited with status 0\n"
           "tb-31-3: true (19815): status > Exited with status 1\n")
    ok, failed = ex.count_taktuk(out, "", nodes)
    assert ok == {"tb-1", "tb-2"}
    assert failed["tb-31"] == "exit status 1"
    assert failed["tb-99"].startswith("ssh: Could not resolve")


def test_count_ansible():
    nodes = ["tb-1", "tb-2", "tb-3", "tb-4"]
    out = ("tb-2 | CHANGED | rc=0 >>\n\n"
           "tb-1 | UNREACHABLE! => {\n    \"changed\": false,\n}\n"
           "tb-3 | FAILED | rc=1 >>\nboom\n")
    ok, failed = ex.count_ansible(out, "", nodes)
    assert ok == {"tb-2"}
    assert failed["tb-1"].startswith("UNREACHABLE!")
    assert failed["tb-3"].startswith("FAILED rc=1")
    assert failed["tb-4"] == "no result line"
