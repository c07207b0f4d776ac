"""Load a pnode inventory the way playbooks see it, and build the platform's plan from it.

The plan is ``plugins/module_utils/_plan.py``; the pnode loading is shared with the ``vnodes``
inventory plugin (``plugins/plugin_utils/_inventory.py``), so CLI, plugin and playbooks agree.
"""
import os
import sys

import yaml

import vxlab

if "ansible_collections" not in sys.modules:
    # Ansible's collection loader must own the ansible_collections package before anything
    # imports it, so that inventory sources which are collection plugins (this collection's
    # vnodes plugin, ...) load in this process as they do under ansible-playbook.
    from ansible.plugins.loader import init_plugin_loader

    init_plugin_loader([vxlab.COLLECTIONS])

from ansible_collections.vxlab.emulation.plugins.module_utils._plan import PlanError
from ansible_collections.vxlab.emulation.plugins.plugin_utils import _inventory

__all__ = ["PlanError", "load_plan", "load", "parse_extra_vars", "state_dir"]


class Loaded:
    """A plan with what it was built from (inventory paths, pnode variables, extra vars)."""

    def __init__(self, plan, sources, names, hostvars, extra_vars):
        self.plan = plan
        self.sources = sources
        self.names = names
        self.hostvars = hostvars
        self.extra_vars = extra_vars

    @property
    def state_dir(self):
        return _inventory.state_dir(self.sources, self.plan.spec.platform)


def parse_extra_vars(items):
    """``-e`` arguments as one dict, later ones winning.

    ``KEY=VALUE`` (the value read as YAML: ``-e vxlab_vnodes_per_pnode=20`` is an integer),
    ``@FILE`` (a YAML/JSON mapping), or an inline YAML/JSON mapping (``-e '{"a": 1}'``).
    """
    out = {}
    for item in items or []:
        if not isinstance(item, str) or not item.strip():
            raise PlanError("extra_vars", item, "empty -e argument")
        item = item.strip()
        if item.startswith("@"):
            path = os.path.expanduser(item[1:])
            try:
                with open(path) as f:
                    data = yaml.safe_load(f)
            except OSError as exc:
                raise PlanError("extra_vars", item, "cannot read: %s" % exc.strerror)
            except yaml.YAMLError as exc:
                raise PlanError("extra_vars", item, "is not valid YAML: %s"
                                % str(exc).splitlines()[0])
            if data is None:
                data = {}
            if not isinstance(data, dict):
                raise PlanError("extra_vars", item, "must hold a mapping of variables")
            out.update(data)
        elif item.startswith("{"):
            try:
                data = yaml.safe_load(item)
            except yaml.YAMLError:
                data = None
            if not isinstance(data, dict):
                raise PlanError("extra_vars", item, "is not a YAML/JSON mapping")
            out.update(data)
        else:
            key, sep, value = item.partition("=")
            key = key.strip()
            if not sep or not key or not key.replace("_", "a").isalnum() or key[0].isdigit():
                raise PlanError("extra_vars", item, "must be KEY=VALUE, @FILE or a mapping")
            try:
                out[key] = yaml.safe_load(value) if value.strip() else ""
            except yaml.YAMLError:
                out[key] = value
    for key in out:
        if not isinstance(key, str):
            raise PlanError("extra_vars", key, "variable names must be strings")
    return out


def load(inventories, extra_vars=None):
    """A :class:`Loaded` platform from inventory paths (like repeated ``-i``)."""
    sources = _inventory.check_sources(inventories)
    extra = dict(extra_vars or {})
    plan, names, hostvars = _inventory.plan_from_sources(sources, extra_vars=extra)
    return Loaded(plan, sources, names, hostvars, extra)


def load_plan(inventories, extra_vars=None):
    """The :class:`Plan` of the platform an inventory describes. Raises :class:`PlanError`."""
    return load(inventories, extra_vars).plan


def state_dir(inventories, platform):
    """``<inventory dir>/.vxlab/<platform>``: where vxlab keeps a platform's generated files."""
    return _inventory.state_dir(inventories, platform)
