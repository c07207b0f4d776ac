#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: lxc_image
short_description: The cached base root filesystem of vxlab LXC vnodes
version_added: 0.1.0
description:
  - Builds, once, the root filesystem every LXC vnode of a pnode mounts as the lower layer of its
    overlay, made by C(debootstrap --variant=minbase) of the machine's Debian suite from the mirror its apt
    sources already use (never a hard-coded host), with O(packages), C(/run/sshd) and
    C(/etc/vxlab) (where vnodes find the platform's authorized keys, bind-mounted per pnode).
  - The image lives in C(<cache_dir>/<name>-<digest>/rootfs); C(<digest>) hashes its recipe (suite,
    architecture, mirror, packages, build steps), so it is rebuilt only when the recipe changes.
    C(recipe.json) is written last, so an interrupted build is never used.
  - Builds hold an exclusive C(flock) on C(<cache_dir>/.<name>.lock), so pnodes sharing a filesystem
    build it once, the others wait and find it ready.
  - Instead of building, O(rootfs) uses a root filesystem directory in place, and O(tarball)
    unpacks a root filesystem tarball into the cache once (keyed by its content hash).
extends_documentation_fragment:
  - vxlab.emulation.attributes
options:
  state:
    description: V(present) makes sure the image exists; V(absent) removes every cached image called O(name).
    type: str
    choices: [present, absent]
    default: present
  name:
    description: Name of the image in the cache.
    type: str
    default: vxlab-base
  cache_dir:
    description: Where images are kept (shared by platforms, tests and the demo).
    type: str
    default: /var/cache/vxlab/images
  suite:
    description: Debian suite to bootstrap; default the machine's own (C(VERSION_CODENAME) of C(/etc/os-release)).
    type: str
  arch:
    description: Debian architecture; default the machine's (C(dpkg --print-architecture)).
    type: str
  mirror:
    description: Debian mirror URL; default the first apt source of the machine that serves O(suite).
    type: str
  packages:
    description: Packages included besides the minimal base (must include C(openssh-server)).
    type: list
    elements: str
    default: [openssh-server, iproute2, iputils-ping, perl, python3]
  rootfs:
    description: Use this root filesystem directory instead of building one (it must hold C(/usr/sbin/sshd)).
    type: str
  tarball:
    description: Unpack this root filesystem tarball into the cache instead of building one.
    type: str
notes:
  - The first build downloads about 100 MB and takes roughly a minute.
requirements:
  - debootstrap (for a built image), tar (for O(tarball))
author:
  - vxlab developers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Base image of the LXC vnodes
  vxlab.emulation.lxc_image:
  register: image

- name: A root filesystem prepared by hand
  vxlab.emulation.lxc_image:
    rootfs: /srv/rootfs/my-vnode
"""

RETURN = r"""
rootfs:
  description: Path of the root filesystem to give to M(vxlab.emulation.vnodes) as O(vxlab.emulation.vnodes#module:image).
  returned: O(state=present)
  type: str
  sample: /var/cache/vxlab/images/vxlab-base-7119a6b9acc1a815/rootfs
digest:
  description: Digest of the recipe (V(null) with O(rootfs)).
  returned: O(state=present)
  type: str
recipe:
  description: The recipe the image was built from.
  returned: O(state=present)
  type: dict
source:
  description: V(debootstrap), V(tarball) or V(rootfs).
  returned: O(state=present)
  type: str
built:
  description: Whether this run built (would build) the image.
  returned: O(state=present)
  type: bool
removed:
  description: Image directories removed.
  returned: O(state=absent)
  type: list
  elements: str
"""

from ansible_collections.vxlab.emulation.plugins.module_utils._lxc_image import LxcImage
from ansible_collections.vxlab.emulation.plugins.module_utils._runner import run_module


def main():
    run_module(LxcImage())


if __name__ == "__main__":
    main()
