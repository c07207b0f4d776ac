# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kernel layer of the collection (private): everything that talks to the kernel's network.

``netns`` (named network namespaces and sysctls, standard library only), ``rawsock`` (a plain
rtnetlink socket: the request helper, the attribute walk and the readers of links, addresses,
routes and FDB entries, standard library only), ``iproute`` (the pyroute2 wrapper: readers on
``rawsock``, writers, sockets in many namespaces), ``rawnl`` (neighbour and FDB tables in bulk,
traffic-control heads and filters through ``rawsock``). It imports only the base layer.
"""
