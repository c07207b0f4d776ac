"""Pure parts of the sshmux helper: validation, normalisation, configuration, diff (no root)."""
import json

import pytest

from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes import sshmux as m

# public keys and their fingerprints as printed by `ssh-keygen -l -f` (OpenSSH 9.2)
ED25519 = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEbYOTsNSqUSLwVdPUoTRq44AZnA3tXgbF5o2W+h2yYH "
           "alice@lab")
ED25519_FP = "SHA256:mtLqI81wYFpvHGXwCFHXl+XJoaATNtkC1X+DPS44EFU"
RSA = ("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC62eq/fe7h9PHZb7jrqjR/S+zTQkF+dNgB77m+eWnn9SQn7g4ai"
       "njYtBJPLVrtyNBiY+CPC1lSYz7n74tS/lI97HUqZWsXfs3bZoMpn1kU1h23tTzqFsXJW2KbI6qoQD4JnfE5Im5VWAy"
       "0A0saJkjRzEqh2ivluspItPF4RXWIkQ== bob")
RSA_FP = "SHA256:Rr884najRs5eZks8tV/No8r5VcOErTlHD9tOtKD20vo"


# -- entries


def test_entries_sorted_by_namespace():
    got = m.normalize_entries([{"netns": "vx-2", "address": "10.0.0.3"},
                               {"netns": "vx-1", "address": "10.0.0.2"}])
    assert got == [{"netns": "vx-1", "address": "10.0.0.2"},
                   {"netns": "vx-2", "address": "10.0.0.3"}]


def test_entries_empty_list_is_valid():
    assert m.normalize_entries([]) == []


@pytest.mark.parametrize("entries, needle", [
    ("vx-1", "must be a list"),
    ([{"netns": "a b", "address": "10.0.0.1"}], "'a b'"),
    ([{"netns": "..", "address": "10.0.0.1"}], "'..'"),
    ([{"netns": "a/b", "address": "10.0.0.1"}], "'a/b'"),
    ([{"netns": "a", "address": "10.0.0"}], "'10.0.0'"),
    ([{"netns": "a", "address": "10.0.0.256"}], "'10.0.0.256'"),
    ([{"netns": "a", "address": "010.0.0.1"}], "'010.0.0.1'"),
    ([{"netns": "a", "address": "fe80::1"}], "'fe80::1'"),
    ([{"netns": "a"}], "exactly the keys"),
    ([{"netns": "a", "address": "10.0.0.1", "port": 22}], "exactly the keys"),
    ([{"netns": "a", "address": "10.0.0.1"}, {"netns": "a", "address": "10.0.0.2"}], "twice"),
])
def test_bad_entries_are_named(entries, needle):
    with pytest.raises(m.SshmuxError) as exc:
        m.normalize_entries(entries)
    assert needle in str(exc.value)


# -- keys


def test_fingerprints_match_ssh_keygen():
    assert m.key_fingerprint(ED25519) == ED25519_FP
    assert m.key_fingerprint(RSA) == RSA_FP
    # options in front of the key type are allowed, as in any authorized_keys file
    assert m.key_fingerprint('restrict,from="10.0.0.0/8" ' + ED25519) == ED25519_FP


@pytest.mark.parametrize("line", [
    "ssh-ed25519",
    "ssh-ed25519 not*base64",
    # a valid blob under the wrong announced type
    "ssh-rsa " + ED25519.split()[1],
    "hello world",
])
def test_bad_key_lines_have_no_fingerprint(line):
    assert m.key_fingerprint(line) is None


def test_keys_normalised_from_text_or_list():
    text = "# team keys\n\n  %s  \n%s\n%s\n" % (ED25519, RSA, ED25519)
    assert m.normalize_keys(text) == "%s\n%s\n" % (ED25519, RSA)
    assert m.normalize_keys([RSA, ED25519]) == "%s\n%s\n" % (RSA, ED25519)


@pytest.mark.parametrize("keys, needle", [
    ("", "no public key"),
    ("# only a comment\n", "no public key"),
    ([], "no public key"),
    ("ssh-ed25519 AAAA", "not a valid OpenSSH public key"),
    ([ED25519, 3], "not a string"),
    (42, "string or a list"),
])
def test_bad_keys_refused(keys, needle):
    with pytest.raises(m.SshmuxError) as exc:
        m.normalize_keys(keys)
    assert needle in str(exc.value)


# -- paths and configuration


def test_mux_dir():
    assert m.mux_dir("/var/lib/vxlab/", "demo") == "/var/lib/vxlab/sshmux-demo"


@pytest.mark.parametrize("state_dir, platform", [
    ("relative/dir", "demo"), ("/a/../b", "demo"), ("/a b", "demo"),
    ("/var/lib/vxlab", "de/mo"), ("/var/lib/vxlab", ""), ("/var/lib/vxlab", ".."),
])
def test_mux_dir_refuses_bad_arguments(state_dir, platform):
    with pytest.raises(m.SshmuxError):
        m.mux_dir(state_dir, platform)


def test_sshd_config_is_key_only_and_points_into_its_directory():
    text = m.render_sshd_config("/var/lib/vxlab/sshmux-demo", "demo")
    lines = dict(line.split(" ", 1) for line in text.splitlines() if line and line[0] != "#")
    assert lines["HostKey"] == "/var/lib/vxlab/sshmux-demo/ssh_host_ed25519_key"
    assert lines["AuthorizedKeysFile"] == "/var/lib/vxlab/sshmux-demo/authorized_keys"
    assert lines["PasswordAuthentication"] == "no"
    assert lines["KbdInteractiveAuthentication"] == "no"
    assert lines["PermitRootLogin"] == "prohibit-password"
    assert lines["UsePAM"] == "no"
    assert lines["PidFile"] == "none"
    assert lines["StrictModes"] == "yes"
    assert lines["LogLevel"] == "ERROR"
    assert text == m.render_sshd_config("/var/lib/vxlab/sshmux-demo", "demo")


def test_entries_file_is_canonical():
    entries = m.normalize_entries([{"netns": "b", "address": "10.0.0.3"},
                                   {"netns": "a", "address": "10.0.0.2"}])
    text = m.render_entries("demo", entries)
    assert json.loads(text) == {"platform": "demo", "entries": entries}
    assert text == m.render_entries("demo", list(entries))


def test_unsafe_ancestor_reports_world_writable_tmp():
    assert m.unsafe_ancestor("/tmp/some/where/file") == "/tmp"


# -- diff


def _desired(entries=("a",)):
    return {
        "entries": m.render_entries("demo", [{"netns": n, "address": "10.0.0.2"} for n in entries]),
        "sshd_config": "config\n",
        "authorized_keys": ED25519 + "\n",
        "script": "source\n",
        "host_key": True,
    }


def _running(desired, **extra):
    state = dict(desired, running=True, listening=1, failed={}, stale=0)
    state.update(extra)
    return state


def test_diff_from_nothing_writes_everything_and_starts():
    assert m.diff_state({}, _desired()) == [
        "keygen", "start", "write:authorized_keys", "write:entries", "write:script",
        "write:sshd_config"]


def test_diff_same_state_does_nothing():
    want = _desired()
    assert m.diff_state(_running(want), want) == []


def test_diff_new_entries_reload():
    assert m.diff_state(_running(_desired(("a",))), _desired(("a", "b"))) == ["hup", "write:entries"]


def test_diff_keys_or_config_need_no_reload():
    # every sshd -i reads them afresh at each connection
    want = _desired()
    current = _running(want, authorized_keys=RSA + "\n", sshd_config="old\n")
    assert m.diff_state(current, want) == ["write:authorized_keys", "write:sshd_config"]


def test_diff_new_script_restarts():
    want = _desired()
    assert m.diff_state(_running(want, script="old\n"), want) == ["restart", "write:script"]


def test_diff_dead_daemon_starts_without_rewriting():
    want = _desired()
    assert m.diff_state(_running(want, running=False), want) == ["start"]


def test_diff_retries_missing_and_recreated_namespaces():
    want = _desired()
    assert m.diff_state(_running(want, failed={"a": "No such file or directory"}), want) == ["hup"]
    assert m.diff_state(_running(want, stale=1), want) == ["hup"]


def test_predict_listeners():
    entries = [{"netns": n, "address": "10.0.0.2"} for n in ("a", "b", "c")]
    assert m.predict_listeners(entries, {"a", "c", "z"}) == (2, 1)
    assert m.predict_listeners([], set()) == (0, 0)


def test_summary_is_pid_independent_and_small():
    want = _desired(("a", "b"))
    one = m.summary(_running(want, pid=100, host_key_fingerprint="SHA256:x"))
    two = m.summary(_running(want, pid=200, host_key_fingerprint="SHA256:x"))
    assert one == two
    assert one["entries"] == 2 and one["running"] is True
    assert one["key_fingerprints"] == [ED25519_FP]
    assert m.summary({}) == {
        "running": False, "entries": 0, "entries_digest": None, "key_fingerprints": [],
        "config_digest": None, "script_digest": None, "host_key": None, "listening": 0,
        "failed": 0, "stale": 0}


# -- the platform's host key


@pytest.fixture(scope="module")
def host_key(tmp_path_factory):
    """A throwaway ed25519 key pair made by ssh-keygen: (private text, public line)."""
    import subprocess
    path = str(tmp_path_factory.mktemp("hostkey") / "k")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "t", "-f", path], check=True)
    with open(path) as f, open(path + ".pub") as g:
        return f.read(), " ".join(g.read().split()[:2])


def test_public_key_of_reads_the_public_half_of_a_private_key(host_key):
    private, public = host_key
    assert m.public_key_of(private) == public
    assert m.key_fingerprint(m.public_key_of(private)) == m.key_fingerprint(public)
    for bad in ("", "junk", "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----",
                private.replace("b3BlbnNzaC1rZXktdjE", "c3BlbnNzaC1rZXktdjE")):
        assert m.public_key_of(bad) is None


def test_diff_installs_a_given_host_key_and_only_when_it_differs(host_key):
    private = host_key[0]
    want = dict(_desired(), host_key=private)
    now = _running(_desired(), host_key_text=None)
    now.update(host_key=False)
    assert "write:host_key" in m.diff_state(now, want) and "keygen" not in m.diff_state(now, want)
    now.update(host_key=True, host_key_text="another key\n")
    assert m.diff_state(now, want) == ["write:host_key"]
    now.update(host_key_text=private)
    assert m.diff_state(now, want) == []
    # no key given: a generated one is kept, whatever it is
    assert m.diff_state(dict(now, host_key_text="another key\n"), _desired()) == []
