# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base layer of the collection (private): rules and helpers every other layer shares.

It imports nothing else of the collection and no third-party library, so the address plan, the
controller-side plugins and every module can use it: ``naming`` (platform, interface, vnode, MAC,
address and path rules; the kernel limits vxlab lives with), ``units`` (rates, times, losses,
sizes, CPU sets; link settings) and ``files`` (atomic writes).
"""
