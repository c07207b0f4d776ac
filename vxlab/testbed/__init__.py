"""The one-machine testbed: K emulated pnodes on this machine, reachable over SSH like real ones.

A testbed ``NAME`` is

* an underlay: a Linux bridge ``vtNAME`` in the initial network namespace holding the control
  host's address ``.254`` of a free /24 of ``10.250.0.0/16``;
* per pnode ``i`` (from 1): a network namespace ``vt-NAME-pI`` with a veth ``ib0`` (address
  ``.i``) whose peer ``vtNAMEpI`` is a port of the underlay bridge, ``lo`` up and IPv4 forwarding
  on;
* with ``--sites S`` (S > 1): the pnodes, in order and evenly (the first sites get one more),
  on S underlay subnets (S free /24s of the pool, chosen alike), a bridge each (``vtNAME`` for
  site 1, ``vtNAMEsK`` for site K) holding the control host's ``.254`` (so it reaches every
  pnode directly), joined by a router namespace ``vt-NAME-r`` (address ``.253`` on its leg
  ``siteK`` into each bridge, forwarding on); every pnode routes the other sites' subnets via
  the router's address in its own site, and keeps address ``.i`` (its index) in its site's subnet;
* per pnode an sshd in that network namespace AND in a private mount namespace of its own, where
  ``/sys`` is a fresh sysfs (it shows the pnode's interfaces; cgroups stay mounted) and
  ``/run/netns`` a fresh tmpfs, so the namespaces a pnode names (its vnodes) are its own, as on a
  real machine. Everything Ansible runs on a pnode inherits that mount namespace;
* files in two places:

  - ``<checkout>/inventories/NAME/``: only what Ansible reads (``hosts.yml``,
    ``group_vars/pnodes.yml``);
  - ``/var/lib/vxlab-testbeds/NAME/`` (:data:`RUNTIME_ROOT`): everything sshd and ssh check or
    that must not reach the checkout: the keys, the sshd configurations and logs, the pnodes'
    ``vxlab_state_dir`` (where the platform's own sshd files and LXC containers live), the
    ControlPersist sockets, ``ssh_config``, ``known_hosts`` and ``testbed.json``, the record that
    :func:`down` reads. OpenSSH's ``StrictModes`` refuses keys below a group- or world-writable
    directory, so these live where the whole path is root-owned and writable by root only,
    whatever directory the checkout is in (below ``/tmp`` too).

:func:`up` says "up" only after one SSH login as root to every pnode, made as Ansible makes it.

The pnodes share this machine's filesystem, so the project's own virtualenv is their Python.

The package, one concern a file: ``names`` (names, subnets, paths: pure), ``render`` (what it
writes and runs, as data: pure), ``system`` (the machine's links, namespaces, routes, records,
lock), ``processes`` (the pnodes' processes), ``sshd`` (one pnode's sshd), ``lifecycle`` (up,
down, list). The pure parts are tested as data in ``tests/unit/vxlab/testbed/``; the functions
that change the system call iproute2, ssh-keygen, nsenter/unshare, ssh and sshd with argument
lists, never through a shell string built from input. This file re-exports the API.
"""

import vxlab  # noqa: F401  (the collection on sys.path first)
from vxlab.testbed.lifecycle import base_image, down, list_testbeds, prove_logins, up  # noqa: F401
from vxlab.testbed.names import (  # noqa: F401
    CONTROL_HOST,
    MAX_PNODES,
    MAX_SITES,
    RUNTIME_ROOT,
    TestbedError,
    bridge_name,
    check_name,
    check_pnodes,
    check_sites,
    choose_subnet,
    choose_subnets,
    host_address,
    layout,
    pnode_names,
    router_netns,
    site_layout,
    site_of_pnodes,
)
from vxlab.testbed.processes import mountinfo_markers  # noqa: F401
from vxlab.testbed.render import (  # noqa: F401
    SSHD_SCRIPT,
    authorized_keys_text,
    check_extra_vars,
    diagnose_login,
    login_argv,
    pnode_address,
    pnode_batch,
    pnode_routes,
    render_inventory,
    render_ssh_config,
    render_sshd_config,
    router_batch,
    sshd_argv,
    underlay_batch,
    validate_inventory,
)
from vxlab.testbed.sshd import restart_sshd, stop_sshd  # noqa: F401
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes.sshmux import unsafe_ancestor  # noqa: F401,E402
