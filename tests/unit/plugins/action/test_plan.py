"""The plan action plugin as data: the per-pnode parts and the vnodes' client file it writes, keyed on the whole spec."""
from __future__ import absolute_import, division, print_function

import json
import os

from ansible_collections.vxlab.emulation.plugins.module_utils._plan import plan_from_hostvars
from ansible_collections.vxlab.emulation.plugins.plugin_utils._inventory import client_ssh_config_text


def plan_of(n=3, per=4, **platform):
    hosts = {}
    for i in range(n):
        hv = {"ansible_host": "192.0.2.%d" % (i + 1), "vxlab_vnodes_per_pnode": per,
              "vxlab_platform": "cl", "vxlab_vnode_network": "10.60.0.0/24",
              "vxlab_state_dir": "/var/lib/vxlab", "vxlab_ssh_key": "/ctl/keys/cl_ed25519"}
        hv.update(platform)
        hosts["pn%d" % (i + 1)] = hv
    return plan_from_hostvars(list(hosts), lambda h: hosts[h])


def test_plan_action_writes_the_client_file_and_keys_parts_on_the_whole_spec(tmp_path, monkeypatch):
    from ansible_collections.vxlab.emulation.plugins.action import plan as action

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    plan = plan_of()
    d = action._write_parts(plan, True)  # pylint: disable=protected-access
    with open(os.path.join(d, action.CLIENT_SSH_CONFIG)) as f:
        assert f.read() == client_ssh_config_text(plan)
    with open(os.path.join(d, "pn2.json")) as f:
        facts = json.load(f)
    assert facts["client_dir"] == "/var/lib/vxlab/cl/client"
    assert facts["client_ssh_config"] == "/var/lib/vxlab/cl/client/ssh_config"
    assert facts["client_key"] == "/var/lib/vxlab/cl/client/id_platform"
    assert action._write_parts(plan_of(), True) == d  # pylint: disable=protected-access
    # what the plan's JSON leaves out still selects other parts (state_dir, limits, image)
    for other in ({"vxlab_state_dir": "/srv/other"}, {"vxlab_vnode_cpu": 0.5}):
        again = action._write_parts(plan_of(**other), True)  # pylint: disable=protected-access
        assert again != d
