# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kernel layer of the collection (private): everything that talks to the kernel's network.

``netns`` (named network namespaces and sysctls, standard library only), ``iproute`` (the
pyroute2 wrapper: readers, writers, sockets in many namespaces), ``rawnl`` (neighbour and FDB
tables in bulk through a plain rtnetlink socket). It imports only the base layer.
"""
