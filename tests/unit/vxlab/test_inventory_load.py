"""vxlab.inventory: pnode inventories loaded like playbooks see them; -e parsing."""
import os

import pytest

from vxlab.inventory import PlanError, load, load_plan, parse_extra_vars, state_dir

from vxlab_test_helpers import write


def test_ini_inventory_order_group_vars_host_vars_and_templates(ini_inventory):
    loaded = load([ini_inventory])
    plan = loaded.plan
    assert loaded.names == ["p2", "p1"]  # inventory order, not sorted; others not included
    assert [(p.name, p.index, p.vnodes, p.vtep) for p in plan.pnodes] == [
        ("p2", 0, 4, "192.168.50.12"), ("p1", 1, 5, "192.168.50.11")]
    assert plan.spec.platform == "demo"
    assert plan.spec.ssh_key == "/keys/demo_ed25519"
    hv = loaded.hostvars["p2"]
    assert hv["ansible_user"] == "admin" and hv["ansible_port"] == 2222
    assert hv["ansible_user"].__class__ is str and hv["ansible_port"].__class__ is int  # untagged
    assert loaded.hostvars["p1"]["vxlab_vnodes"] == 5  # "{{ 2 + 3 }}" templated
    names = [v["name"] for v in plan.vnodes_of("p1")]
    assert names == ["demo-6", "demo-7", "demo-8", "demo-9", "demo-10"]  # stride 5


def test_extra_vars_win_over_group_vars(ini_inventory):
    plan = load_plan([ini_inventory], {"vxlab_vnodes_per_pnode": 7, "vxlab_mtu": 1400})
    assert plan.pnode("p2").vnodes == 7
    assert plan.spec.mtu == 1400


def test_yaml_inventory_and_directory_source(yaml_inventory):
    plan = load_plan([yaml_inventory])
    assert [p.name for p in plan.pnodes] == ["a1", "a2", "a3"]
    assert plan.spec.total_vnodes == 8
    assert load_plan([os.path.dirname(yaml_inventory)]).to_json() == plan.to_json()


def test_repeated_inventories_merge(tmp_path, yaml_inventory):
    extra = write(str(tmp_path / "more" / "extra.yml"), """
        pnodes:
          vars:
            vxlab_mtu: 1300
        """)
    plan = load_plan([yaml_inventory, extra])
    assert plan.spec.mtu == 1300


def test_missing_group_missing_file_and_bad_value(tmp_path, ini_inventory):
    other = write(str(tmp_path / "o" / "hosts.ini"), "[web]\nw1\n")
    with pytest.raises(PlanError, match="no group 'pnodes'"):
        load_plan([other])
    with pytest.raises(PlanError, match="does not exist"):
        load_plan([str(tmp_path / "nope.ini")])
    with pytest.raises(PlanError, match="vxlab_vnodes_per_pnode='x': must be an integer"):
        load_plan([ini_inventory], {"vxlab_vnodes_per_pnode": "x"})
    with pytest.raises(PlanError, match="unknown vxlab variable"):
        load_plan([ini_inventory], {"vxlab_vnode_per_pnode": 3})


def test_undefined_template_is_a_plan_error(tmp_path):
    inv = write(str(tmp_path / "t" / "hosts.ini"),
                '[pnodes]\nq1 ansible_host=192.168.1.1 vxlab_vnodes="{{ nothing_here }}"\n')
    with pytest.raises(PlanError, match="vxlab_vnodes.*on pnode q1.*cannot be templated"):
        load_plan([inv])


def test_state_dir_is_beside_the_inventory(ini_inventory):
    assert state_dir([ini_inventory], "demo") == os.path.join(
        os.path.dirname(ini_inventory), ".vxlab", "demo")
    assert state_dir([os.path.dirname(ini_inventory)], "demo") == os.path.join(
        os.path.dirname(ini_inventory), ".vxlab", "demo")


def test_parse_extra_vars_types_files_and_order(tmp_path):
    f = write(str(tmp_path / "vars.yml"), "vxlab_mtu: 1400\nname: from_file\n")
    got = parse_extra_vars(["vxlab_vnodes_per_pnode=20", "flag=true", "s=hello world",
                            "empty=", "@" + f, "name=last", '{"j": [1, 2]}', "q='01'"])
    assert got == {"vxlab_vnodes_per_pnode": 20, "flag": True, "s": "hello world", "empty": "",
                   "vxlab_mtu": 1400, "name": "last", "j": [1, 2], "q": "01"}
    assert parse_extra_vars(None) == {}


@pytest.mark.parametrize("bad,match", [
    ("novalue", "KEY=VALUE"),
    ("=1", "KEY=VALUE"),
    ("1a=2", "KEY=VALUE"),
    ("@/nonexistent/vars.yml", "cannot read"),
    ("{not: [closed", "mapping"),
])
def test_parse_extra_vars_errors(bad, match):
    with pytest.raises(PlanError, match=match):
        parse_extra_vars([bad])


def test_parse_extra_vars_file_must_be_mapping(tmp_path):
    f = write(str(tmp_path / "list.yml"), "- 1\n- 2\n")
    with pytest.raises(PlanError, match="mapping"):
        parse_extra_vars(["@" + f])


def test_pnode_group_can_be_renamed_like_in_the_playbooks(tmp_path):
    inv = write(str(tmp_path / "g" / "hosts.ini"),
                "[workers]\nw1 ansible_host=192.168.9.1\nw2 ansible_host=192.168.9.2\n")
    plan = load_plan([inv], {"vxlab_pnode_group": "workers"})
    assert [p.name for p in plan.pnodes] == ["w1", "w2"]
    with pytest.raises(PlanError, match="vxlab_pnode_group='pnodes'.*has no group 'pnodes'"):
        load_plan([inv])
    with pytest.raises(PlanError, match="must be an inventory group name"):
        load_plan([inv], {"vxlab_pnode_group": "a b"})
