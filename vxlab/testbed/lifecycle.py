"""A testbed's life: :func:`up` (validated first; removed again if it fails half-way; "up" only
once every pnode took a root login), :func:`down` (idempotent, from the record and from the
names objects must have), :func:`list_testbeds`, and the LXC base image the pnodes need.
"""
import contextlib
import os
import shutil
import subprocess
import time

import yaml

import vxlab
from ansible_collections.vxlab.emulation.plugins.module_utils import _lxc_image as _image
from ansible_collections.vxlab.emulation.plugins.module_utils._base import files, procfs
from ansible_collections.vxlab.emulation.plugins.module_utils._vnodes.sshmux import unsafe_ancestor
from vxlab.testbed import bare, names, processes, render, sshd, system


def keygen(path, comment):
    system.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path])
    os.chmod(path, 0o600)
    with open(path + ".pub") as f:
        return f.read().strip()


def run_parallel(jobs, width=16):
    """Run argv lists (with stdin text) concurrently, ``width`` at a time; raise on a failure."""
    errors = []
    for start in range(0, len(jobs), width):
        running = []
        for argv, stdin in jobs[start:start + width]:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            running.append((argv, proc, stdin))
        for argv, proc, stdin in running:
            out, err = proc.communicate(stdin, timeout=60)
            if proc.returncode != 0:
                errors.append("%s: %s" % (" ".join(argv[:4]), (err or out).strip()))
    if errors:
        raise names.TestbedError("; ".join(errors))


def prove_logins(nodes, paths, timeout=30):
    """Log in to every pnode at once as Ansible will (:func:`login_argv`); raise a TestbedError
    naming each pnode that refused, what its sshd logged and the likely cause."""
    procs = [(p, subprocess.Popen(render.login_argv(paths, p["address"]), stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
             for p in nodes]
    failures = []
    for p, proc in procs:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            err = (err or "") + " (no answer in %d s)" % timeout
        if proc.returncode == 0:
            continue
        client = " ".join((err or out or "exit %d" % proc.returncode).split())
        log = ""
        with contextlib.suppress(OSError):
            with open(p["sshd_log"], errors="replace") as f:
                log = f.read()[-20000:]
        says, cause = render.diagnose_login(client, log, paths)
        failures.append("%s (root@%s): ssh says %r; its sshd (log %s) says %r; likely cause: %s"
                        % (p["name"], p["address"], client[-300:], p["sshd_log"], says[-500:], cause))
    if failures:
        raise names.TestbedError("cannot log in to %d of %d pnodes: %s"
                                 % (len(failures), len(nodes), " | ".join(failures)))


def up(name, pnodes=3, extra_vars=None, repo=None, progress=None, sites=1, bare=False):
    """Create testbed ``name`` with ``pnodes`` pnodes; return its description (see module doc).

    ``sites`` > 1: the pnodes, in order and evenly, on that many routed underlay subnets (a
    bridge each, the control host's address on every one), joined by a router namespace.

    ``bare``: pnodes with their own root filesystem (see :mod:`vxlab.testbed.bare`), prepared by
    the first deploy from the machine's local package source; their inventory names no
    interpreter (Ansible discovers it) and points ``pnode_prepare`` at that source.

    Everything is validated before anything is created. If creation fails half-way, what was
    made is removed again (by :func:`down`) before the error is raised.
    """
    names.check_name(name)
    names.check_pnodes(pnodes)
    names.check_sites(sites, pnodes)
    repo = os.path.abspath(repo or vxlab.REPO)
    paths = names.layout(name, repo)
    nodes = names.pnode_names(name, pnodes)
    if sites > 1:
        for p, site in zip(nodes, names.site_of_pnodes(pnodes, sites)):
            p["site"] = site
    started = time.monotonic()

    with system.lock():
        for where in (paths["dir"], paths["private"]):
            if os.path.lexists(where):
                raise names.TestbedError("testbed %r exists (%s%s); remove it with `vxlab testbed down "
                                         "--name %s` first" % (name, where, made_from(paths, repo), name))
        used = system.used_networks() + system.other_testbed_networks(name)
        subnets = names.choose_subnets(used, sites)
        subnet = subnets[0]
        site_info = names.site_layout(name, subnets)
        vnode_net = None
        if "vxlab_vnode_network" not in (extra_vars or {}):
            vnode_net = names.choose_subnet(used + subnets, pool=names.VNODE_POOL, new_prefix=16)
        hosts_doc, group_vars = render.render_inventory(name, nodes, subnets, paths, extra_vars, vnode_net,
                                                        bare=bare)
        spec = render.validate_inventory(hosts_doc, group_vars)  # raises the PlanError; nothing made yet
        links = system.links()
        namespaces = system.netns_names()
        bridges = [s["bridge"] for s in site_info]
        router_links = [s["router_if"] for s in site_info if s["router_if"]]
        router = names.router_netns(name) if sites > 1 else None
        wanted = set(bridges) | set(router_links) | {p["root_if"] for p in nodes}
        all_netns = [p["netns"] for p in nodes] + ([router] if router else [])
        clash = sorted(wanted & set(links)) + sorted(set(all_netns) & namespaces)
        if clash:
            raise names.TestbedError("testbed %r cannot be made: %s already exist(s) on this machine"
                                     % (name, ", ".join(clash)))
        state = {
            "version": names.STATE_VERSION,
            "name": name,
            "repo": repo,
            "status": "creating",
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "dir": paths["dir"],
            "inventory": paths["inventory"],
            "ssh_config": paths["ssh_config"],
            "cp_dir": paths["cp"],
            "underlay_network": subnet,
            "vnode_network": group_vars.get("vxlab_vnode_network"),
            "control_address": names.host_address(subnet, names.CONTROL_HOST),
            "bridge": names.bridge_name(name),
            "sites": sites,
            "underlay_networks": subnets,
            "site_layout": site_info,
            "bridges": bridges,
            "router_netns": router,
            "links": bridges + [p["root_if"] for p in nodes] + router_links,
            "netns": all_netns,
            "bare": {} if bare else None,
            "pnodes": [dict(p, site=p.get("site", 1), address=render.pnode_address(subnets, p),
                            sshd_config=os.path.join(paths["sshd_dir"], "p%d.conf" % p["index"]),
                            sshd_pid=None, sshd_starttime=None) for p in nodes],
        }
        make_private_dir(paths)
        os.makedirs(os.path.dirname(paths["group_vars"]), mode=0o755)  # and inventories/<name>/
        files.write_json(paths["state"], state)

    try:
        if bare:
            make_bare(state, paths, progress, repo)
        make(state, paths, hosts_doc, group_vars, progress)
        if (bare or spec.vnode_kind == "lxc") and not spec.lxc_image:
            base_image(name, progress)
    except BaseException as exc:
        system.say(progress, "testbed %s: creation failed (%s); removing what was made" % (name, exc))
        try:
            result = down(name, repo=repo)
        except Exception as cleanup_exc:  # report both, the creation error first
            raise names.TestbedError("testbed %r: %s; cleaning up also failed: %s"
                                     % (name, exc, cleanup_exc)) from exc
        if not result["ok"]:
            raise names.TestbedError("testbed %r: %s; cleaning up left: %s"
                                     % (name, exc, "; ".join(result["remaining"]))) from exc
        raise
    system.say(progress, "testbed %s: %d pnodes up in %.1f s; inventory %s"
               % (name, pnodes, time.monotonic() - started, paths["inventory"]))
    return describe(state)


def made_from(paths, repo):
    """``", made from checkout X"`` when the testbed's record names another checkout."""
    try:
        other = (system.load_state(paths["state"]) or {}).get("repo")
    except names.TestbedError:
        other = None
    return ", made from the checkout %s" % other if other and other != repo else ""


def make_private_dir(paths):
    """The testbed's private directory, below a root-owned path that only root can write (sshd's
    StrictModes checks every directory above the keys it reads)."""
    root = os.path.dirname(paths["private"])
    os.makedirs(root, mode=0o755, exist_ok=True)
    bad = unsafe_ancestor(paths["private"])
    if bad:
        raise names.TestbedError("%s is writable by others than root or not owned by root: sshd "
                                 "(StrictModes) would refuse the testbed's keys below it; fix its "
                                 "owner and mode (root, 0755)" % bad)
    os.mkdir(paths["private"], 0o755)


def make_bare(state, paths, progress, repo):
    """What bare pnodes need before their sshd starts: the machine's base root and local source
    (made once per machine), the LXC image cache directory they see, their own directories."""
    base = bare.base_root(progress, state["name"])
    source = bare.local_source(base, progress, state["name"], repo)
    os.makedirs(_image.DEFAULT_CACHE_DIR, 0o755, exist_ok=True)
    state["bare"] = {"base": base, "source": source, "images": _image.DEFAULT_CACHE_DIR}
    bare.make_pnode_dirs(paths, state["pnodes"])
    files.write_json(paths["state"], state)


def make(state, paths, hosts_doc, group_vars, progress):
    name, nodes = state["name"], state["pnodes"]
    subnets = state.get("underlay_networks") or [state["underlay_network"]]
    for d in ("keys", "sshd_dir", "state_dir", "cp"):
        os.makedirs(paths[d], mode=0o700, exist_ok=True)
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation directory

    if len(subnets) == 1:
        system.say(progress, "testbed %s: underlay %s on bridge %s, %d pnode namespaces"
                   % (name, subnets[0], state["bridge"], len(nodes)))
    else:
        system.say(progress, "testbed %s: %d sites %s on bridges %s joined by router %s, %d pnode "
                   "namespaces" % (name, len(subnets), ", ".join(subnets), ", ".join(state["bridges"]),
                                   state["router_netns"], len(nodes)))
    system.run(["ip", "-batch", "-"], stdin=render.underlay_batch(name, subnets, nodes))
    jobs = []
    for p in nodes:
        site = p.get("site", 1)
        jobs.append((["ip", "-n", p["netns"], "-batch", "-"],
                     render.pnode_batch(subnets[site - 1], p["index"], render.pnode_routes(name, subnets, site))))
        jobs.append((["nsenter", "--net=/run/netns/" + p["netns"], "sysctl", "-qw",
                      "net.ipv4.ip_forward=1"], ""))
    if state.get("router_netns"):
        jobs.append((["ip", "-n", state["router_netns"], "-batch", "-"], render.router_batch(name, subnets)))
        jobs.append((["nsenter", "--net=/run/netns/" + state["router_netns"], "sysctl", "-qw",
                      "net.ipv4.ip_forward=1"], ""))
    run_parallel(jobs)

    system.say(progress, "testbed %s: keys and sshd configuration" % name)
    pnode_pub = keygen(paths["pnode_key"], "vxlab-testbed-%s-pnodes" % name)
    keygen(paths["vnode_key"], "vxlab-testbed-%s-vnodes" % name)
    host_pub = keygen(paths["host_key"], "vxlab-testbed-%s-host" % name)
    files.write_atomic(paths["authorized_keys"], render.authorized_keys_text(pnode_pub), 0o600)
    host_key = " ".join(host_pub.split()[:2])
    files.write_atomic(paths["known_hosts"], "".join(
        "%s,%s %s\n" % (p["name"], p["address"], host_key) for p in nodes))
    files.write_atomic(paths["ssh_config"], render.render_ssh_config(nodes, subnets, paths))
    for p in nodes:
        pidfile = os.path.join(paths["sshd_dir"], "p%d.pid" % p["index"])
        files.write_atomic(p["sshd_config"], render.render_sshd_config(p["address"], paths, pidfile), 0o600)
        os.makedirs(os.path.join(paths["mnt_dir"], "p%d" % p["index"]), mode=0o700, exist_ok=True)

    system.say(progress, "testbed %s: starting %d sshd" % (name, len(nodes)))
    for p in nodes:
        log = os.path.join(paths["sshd_dir"], "p%d.log" % p["index"])
        with open(log, "ab") as logf:
            proc = subprocess.Popen(
                sshd.start_argv(state, paths, p),
                stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, close_fds=True,
                start_new_session=True)
        processes.CHILDREN[proc.pid] = proc
        p["sshd_pid"] = proc.pid
        p["sshd_log"] = log
    files.write_json(paths["state"], state)
    deadline = time.monotonic() + 15 + 0.25 * len(nodes)
    for p in nodes:
        sshd.wait_banner(p["address"], p["sshd_pid"], deadline, p["sshd_log"])
        st = procfs.stat_fields(p["sshd_pid"])
        p["sshd_starttime"] = st[2] if st else None
        p["netns_inode"] = procfs.ns_inode(p["sshd_pid"], "net")
        p["mnt_inode"] = procfs.ns_inode(p["sshd_pid"], "mnt")
    files.write_json(paths["state"], state)
    system.say(progress, "testbed %s: logging in to %d pnodes as Ansible will" % (name, len(nodes)))
    prove_logins(nodes, paths)

    files.write_atomic(paths["inventory"], "# vxlab testbed %s (written by vxlab/testbed.py)\n" % name
                       + yaml.safe_dump(hosts_doc, default_flow_style=False, sort_keys=False))
    files.write_atomic(paths["group_vars"], "# vxlab testbed %s: platform variables\n" % name
                       + yaml.safe_dump(group_vars, default_flow_style=False, sort_keys=False))
    state["status"] = "up"
    files.write_json(paths["state"], state)


def base_image(name, progress=None):
    """Build the LXC vnodes' default base image in this (the initial) network namespace.

    A real pnode builds it itself (``vxlab.emulation.lxc_image``, debootstrap from its Debian
    mirror), but the testbed's pnodes are namespaces with no route beyond the testbed, so the
    image their deploy will ask for (same recipe, so same cache directory: the pnodes share this
    machine's filesystem) is built here, once per machine; the deploy then finds it cached.
    """
    if not shutil.which("lxc-start") or not shutil.which("debootstrap"):
        return  # no LXC here: the deploy says so if the platform asks for LXC vnodes
    d = _image.validate({})
    started = time.monotonic()
    try:
        changed, info = _image.ensure(d, check_mode=True)
        if not changed:
            return
        system.say(progress, "testbed %s: LXC base image %s (debootstrap, once per machine, about a "
                   "minute; the pnodes have no route to a mirror)" % (name, os.path.dirname(info["rootfs"])))
        _image.ensure(d)
    except _image.ImageError as exc:
        raise names.TestbedError("the LXC base image could not be built on this machine (%s); give "
                                 "vxlab_lxc_image (a root filesystem or tarball) or -e "
                                 "vxlab_vnode_kind=netns" % exc) from exc
    system.say(progress, "testbed %s: LXC base image built in %.0f s" % (name, time.monotonic() - started))


def describe(state):
    return {
        "name": state["name"],
        "inventory": state["inventory"],
        "dir": state["dir"],
        "private": os.path.dirname(state["ssh_config"]) if state.get("ssh_config") else None,
        "ssh_config": state.get("ssh_config"),
        "pnodes": [{"name": p["name"], "netns": p["netns"], "address": p["address"],
                    "sshd_pid": p.get("sshd_pid"), "site": p.get("site", 1)} for p in state.get("pnodes", [])],
        "underlay_network": state.get("underlay_network"),
        "control_address": state.get("control_address"),
        "sites": state.get("sites", 1),
        "underlay_networks": state.get("underlay_networks") or [state.get("underlay_network")],
        "router_netns": state.get("router_netns"),
        "bare": bool(state.get("bare")),
    }


# --------------------------------------------------------------------------------------------
# down
def down(name, repo=None, progress=None):
    """Remove testbed ``name``: processes, namespaces, links, files. Idempotent.

    Works from ``testbed.json`` and, where that is missing or incomplete, from the names the
    testbed's objects must have (namespaces ``vt-NAME-pI``, links aliased ``vxlab-testbed:NAME``).
    Returns ``{name, dir, removed: {control_masters, processes, netns, links, dir, private},
    remaining, ok}``; ``remaining`` lists what could not be removed (then the state file is kept,
    so that down can be run again).
    """
    names.check_name(name)
    repo = os.path.abspath(repo or vxlab.REPO)
    paths = names.layout(name, repo)
    try:
        state = system.load_state(paths["state"]) or {}
    except names.TestbedError as exc:  # unreadable record: fall back to the names alone
        system.say(progress, "testbed %s: %s; looking for its objects by name" % (name, exc))
        state = {}
    removed = {"control_masters": [], "processes": [], "netns": [], "links": [], "dir": None,
               "private": None}
    remaining = []

    # what belongs to the testbed: recorded, plus found by name/alias
    ns_re = names.netns_re(name)
    namespaces = system.netns_names()
    netns = set(state.get("netns", [])) | {n for n in namespaces if ns_re.match(n)}
    links_now = system.links()
    links = set(state.get("links", [])) | {
        n for n, alias in links_now.items() if alias == names.ALIAS_PREFIX + name}
    markers = {"vxlab-" + n for n in netns}
    # (and the sockets of a testbed made by a vxlab that kept them in the checkout)
    cp_dirs = {d for d in (state.get("cp_dir"), paths["cp"],
                           os.path.join(state.get("dir") or paths["dir"], ".testbed", "cp")) if d}

    # 1. ControlPersist masters of the testbed's sockets
    removed["control_masters"] = processes.close_masters(cp_dirs)

    # 2. every process of the pnodes
    pids = processes.testbed_processes(markers, ["/run/netns/" + n for n in netns if n in namespaces])
    for p in state.get("pnodes", []):
        if p.get("sshd_pid") and processes.sshd_alive(p) and p["sshd_pid"] not in pids:
            pids.append(p["sshd_pid"])
    if pids:
        system.say(progress, "testbed %s: stopping %d processes" % (name, len(pids)))
        left = processes.kill(pids)
        removed["processes"] = sorted(set(pids) - set(left))
        remaining += ["process %d" % pid for pid in left]
    for p in state.get("pnodes", []):  # reap sshd children of this process, if any
        if p.get("sshd_pid"):
            processes.reap(p["sshd_pid"])

    # 3. namespaces, links, bridge
    gone = sorted(netns & namespaces)
    if gone:
        system.say(progress, "testbed %s: deleting %d namespaces" % (name, len(gone)))
        system.run(["ip", "-force", "-batch", "-"], stdin="".join("netns del %s\n" % n for n in gone),
                   check=False)
        removed["netns"] = gone
    bridges = {names.bridge_name(name)} | set(state.get("bridges", []))
    ports = sorted(n for n in links if n not in bridges and n in links_now)
    order = ports + sorted(b for b in bridges if b in links and b in links_now)
    if order:
        system.run(["ip", "-force", "-batch", "-"], stdin="".join("link del dev %s\n" % n for n in order),
                   check=False)

    # 4. verify (namespace teardown in the kernel is asynchronous: give it a moment)
    deadline = time.monotonic() + 5.0
    while True:
        left_ns = sorted(netns & system.netns_names())
        now = system.links()
        left_links = sorted(n for n in links if n in now)
        left_procs = processes.testbed_processes(markers, ["/run/netns/" + n for n in left_ns])
        if not (left_ns or left_links or left_procs) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    removed["links"] = sorted(n for n in order if n not in left_links)
    remaining += ["netns %s" % n for n in left_ns]
    remaining += ["link %s" % n for n in left_links]
    remaining += ["process %d" % pid for pid in left_procs if "process %d" % pid not in remaining]

    # 5. files: the inventory directory in the checkout (the one recorded, if the testbed was made
    # from another checkout), then the private directory with the record (both kept when
    # something could not be removed: the record says what is left)
    for d in sorted({state.get("dir") or paths["dir"], paths["dir"]}):
        if not os.path.lexists(d):
            continue
        if not state and not is_testbed_dir(d):
            remaining.append("directory %s is not a testbed's (no %s, hosts.yml not written by "
                             "vxlab): left alone" % (d, names.STATE_FILE))
        elif remaining:
            remaining.append("directory %s (kept: the testbed is not fully removed)" % d)
        else:
            shutil.rmtree(d, ignore_errors=True)
            if os.path.lexists(d):
                remaining.append("directory %s" % d)
            else:
                removed["dir"] = d
    if os.path.lexists(paths["private"]):
        if remaining:
            remaining.append("directory %s (kept: it records what is left)" % paths["private"])
        else:
            shutil.rmtree(paths["private"], ignore_errors=True)
            if os.path.lexists(paths["private"]):
                remaining.append("directory %s" % paths["private"])
            else:
                removed["private"] = paths["private"]
    for d in cp_dirs:
        if d != paths["cp"] and os.path.isdir(d) and not remaining:
            shutil.rmtree(d, ignore_errors=True)
    system.say(progress, "testbed %s: %s" % (name, "removed" if not remaining else
                                             "NOT fully removed: " + "; ".join(remaining)))
    return {"name": name, "dir": paths["dir"], "removed": removed, "remaining": remaining,
            "ok": not remaining}


def is_testbed_dir(tb_dir):
    """True if ``tb_dir`` (``inventories/NAME``) was written by a testbed."""
    try:
        with open(os.path.join(tb_dir, "hosts.yml")) as f:
            if f.readline().startswith("# vxlab testbed "):
                return True
    except OSError:
        pass
    # a testbed made by a vxlab that kept its files in the checkout
    return os.path.isfile(os.path.join(tb_dir, ".testbed", names.STATE_FILE))


# --------------------------------------------------------------------------------------------
# list
def list_testbeds(repo=None):
    """Every testbed of this checkout (a directory of ``inventories/`` whose record names this
    checkout), with the health of its pnodes.

    Each entry: the :func:`up` description plus ``status`` (``up``: every pnode's namespace and
    sshd are there; ``degraded``: some are missing; ``creating``: up has not finished or
    crashed), ``created`` and per pnode ``netns_present`` and ``sshd_running``.
    """
    repo = os.path.abspath(repo or vxlab.REPO)
    inventories = os.path.join(repo, "inventories")
    result = []
    if not os.path.isdir(inventories):
        return result
    namespaces = system.netns_names()
    for entry in sorted(os.listdir(inventories)):
        if not names.NAME_RE.match(entry):
            continue
        try:
            state = system.load_state(names.layout(entry, repo)["state"])
        except names.TestbedError:
            state = None
        if not state or state.get("repo") != repo:
            continue
        desc = describe(state)
        healthy = True
        for p, d in zip(state.get("pnodes", []), desc["pnodes"]):
            d["netns_present"] = p["netns"] in namespaces
            d["sshd_running"] = processes.sshd_alive(p)
            healthy = healthy and d["netns_present"] and d["sshd_running"]
        status = state.get("status", "creating")
        desc["status"] = "degraded" if status == "up" and not healthy else status
        desc["created"] = state.get("created")
        result.append(desc)
    return result
