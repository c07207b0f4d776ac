# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Record what a module would change (private to the vxlab.emulation collection).

Every vxlab module computes its difference first and changes the system afterwards: it adds one
``(key, before, after)`` record per managed property to a :class:`DifferenceTracker`, and derives
both ``changed`` and the ``diff`` result (``{"before": ..., "after": ...}``) from those records, so
check mode and a real run report exactly the same thing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy


class DifferenceTracker:
    """Ordered records of ``(key, before, after)``; only records whose values differ count."""

    def __init__(self):
        self._records = []

    def add(self, key, before, after, active=True):
        """Record one property. ``active=False`` records it for the diff but never as a change."""
        self._records.append((key, copy.deepcopy(before), copy.deepcopy(after), bool(active)))
        return before != after and active

    def merge(self, other, prefix=""):
        """Append the records of another tracker, their keys prefixed by ``prefix``."""
        for key, before, after, active in other._records:
            self._records.append((prefix + key, before, after, active))

    def differences(self):
        """``[(key, before, after), ...]`` for the records whose values differ, in order."""
        return [(k, b, a) for k, b, a, active in self._records if active and b != a]

    @property
    def changed(self):
        return bool(self.differences())

    def has(self, key):
        return any(k == key for k, _b, _a in self.differences())

    def before(self, only_changed=True):
        return dict((k, b) for k, b, a, act in self._records if not only_changed or (act and a != b))

    def after(self, only_changed=True):
        return dict((k, a) for k, b, a, act in self._records if not only_changed or (act and a != b))

    def diff(self, only_changed=True):
        """The ``diff`` result of an Ansible module: ``{"before": {...}, "after": {...}}``."""
        return {"before": self.before(only_changed), "after": self.after(only_changed)}

    def __len__(self):
        return len(self._records)
