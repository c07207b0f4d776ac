# -*- coding: utf-8 -*-
"""The control host's side in one call: the platform's keys (real ssh-keygen, real files), each
step checked by its own module's argument spec before anything runs."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat

import pytest

from ansible_collections.vxlab.emulation.plugins.module_utils._control import Control, Keys
from ansible_collections.vxlab.emulation.plugins.module_utils._runner import Failure, check_params, execute


def run(params, check_mode=False):
    concern = Control()
    return execute(concern, check_params(concern, params), check_mode=check_mode, diff_mode=True)


def keys_params(tmp_path):
    return {"platform": "zct", "keys": [{"path": str(tmp_path / "k" / "zct_ed25519"), "comment": "vxlab-zct"},
                                        {"path": str(tmp_path / "k" / "zct_host"), "comment": "vxlab-zct-vnodes"}]}


def test_keys_check_mode_reports_and_makes_nothing_then_a_run_makes_them_once(tmp_path):
    params = keys_params(tmp_path)
    out = run(params, check_mode=True)
    assert out["changed"] and not (tmp_path / "k").exists()
    assert "keygen %s" % (tmp_path / "k" / "zct_ed25519") in out["diff"][0]["after"]
    out = run(params)
    assert out["changed"] and out["steps"]["keys"]["made"] == [str(tmp_path / "k" / "zct_ed25519"),
                                                               str(tmp_path / "k" / "zct_host")]
    assert stat.S_IMODE(os.stat(str(tmp_path / "k")).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(str(tmp_path / "k" / "zct_ed25519")).st_mode) == 0o600
    with open(str(tmp_path / "k" / "zct_ed25519.pub")) as f:
        first = f.read()
    assert first.startswith("ssh-ed25519 ") and first.strip().endswith("vxlab-zct")
    again = run(params)
    assert not again["changed"] and again["steps"]["keys"]["made"] == []
    with open(str(tmp_path / "k" / "zct_ed25519.pub")) as f:
        assert f.read() == first  # never rewritten


def test_absent_does_not_touch_the_keys(tmp_path):
    params = keys_params(tmp_path)
    run(params)
    out = run(dict(params, state="absent"))
    assert not out["changed"] and (tmp_path / "k" / "zct_ed25519").exists()


def test_a_bad_step_parameter_is_named_before_anything_runs(tmp_path):
    params = dict(keys_params(tmp_path), route={"dest": "10.144.0.0/16", "gateway": "not-an-address"})
    with pytest.raises(Failure, match="route.*gateway"):
        run(params)
    params = dict(keys_params(tmp_path), neigh_limits={"gc_thresh1": "many"})
    with pytest.raises(Failure, match="control: neigh_limits: .*gc_thresh1"):
        run(params)
    assert not (tmp_path / "k").exists()


def test_a_relative_key_path_is_refused(tmp_path):
    with pytest.raises(Failure, match="keys: path 'k/x' is not absolute"):
        execute(Keys(), check_params(Keys(), {"keys": [{"path": "k/x"}]}))
