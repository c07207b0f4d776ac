"""Check a deployed platform from the controller: SSH to every vnode, pings across pnodes.

``check(inventory)`` renders the platform's ssh_config into ``<inventory dir>/.vxlab/<platform>/``
then (a) runs ``ssh -F ssh_config NAME true`` for every vnode, or a sample of each pnode's
(bounded thread pool, timeouts) and
(b) from ``sample`` vnodes of each pnode pings ``sample`` vnodes of every other pnode, one SSH
session per source vnode, and counts the answers per pair of pnodes;
(c) with data networks (``vxlab_networks``): from ``sample`` members of every data network, pings
the data addresses of ``sample`` members of every data network (itself across pnodes, the others
through the routers) and counts them per pair of networks; a pair the plan routes nowhere is
reported as having no route by design, not pinged.
"""
import ipaddress
import subprocess
from concurrent.futures import ThreadPoolExecutor

from vxlab import inventory as _inventory
from vxlab import render as _render

SSH_TIMEOUT = 30
#: the remote side of the ping sweep: a fixed script, the addresses arrive as its arguments; a
#: lost ping is tried once more (the first packet to a new destination waits for ARP across the
#: VXLAN, and one may be lost on a loaded pnode) before it counts as failed
PING_SCRIPT = ('for a in "$@"; do if ping -c1 -W2 -q "$a" >/dev/null 2>&1 || ping -c1 -W3 -q "$a" >/dev/null 2>&1; '
               'then echo "ok $a"; else echo "fail $a"; fi; done')
#: seconds the sweep may take per address (both pings lost)
PING_SECONDS = 5


def sample_of(items, k):
    """``k`` items spread evenly over ``items`` (first and last included); deterministic."""
    items = list(items)
    if k <= 0 or not items:
        return []
    if k >= len(items):
        return items
    if k == 1:
        return [items[0]]
    picks = sorted({round(i * (len(items) - 1) / (k - 1)) for i in range(k)})
    return [items[i] for i in picks]


def _ipv4(address):
    """The address back as text only if it is a canonical dotted-quad IPv4 address."""
    ip = ipaddress.IPv4Address(address)
    if str(ip) != address:
        raise ValueError("not a canonical IPv4 address: %r" % (address,))
    return str(ip)


def ssh_argv(ssh_config, name, remote):
    """argv of one ssh call; ``remote`` is a list of words ssh joins for the remote shell."""
    return ["ssh", "-F", ssh_config, "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
            "-T", name, "--"] + list(remote)


def _run(argv, timeout):
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout, text=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr.strip()
    except subprocess.TimeoutExpired:
        return 255, "", "timed out after %ds" % timeout
    except OSError as exc:
        return 255, "", str(exc)


def _why(rc, err):
    """Why an SSH call failed: its last line on stderr, or its status when it said nothing."""
    if not rc:
        return ""
    return err.splitlines()[-1] if err else "ssh exited with status %d without a message" % rc


def _ping_remote(addresses):
    """The remote command: ``sh -c SCRIPT sh ADDR...``, every address validated as IPv4.

    ssh hands the remote shell one string, so each word is single-quoted; the script is constant
    and the addresses are validated, so no input reaches the shell unquoted.
    """
    words = ["sh", "-c", PING_SCRIPT, "vxlab-ping"] + [_ipv4(a) for a in addresses]
    return ["'%s'" % w.replace("'", "'\\''") for w in words]


def check(inventory, sample=3, extra_vars=None, progress=None, parallel=32, ssh_sample=None, loaded=None):
    """Check a platform; return ``{ok, ssh: {ok, failed}, pairs: [...], state_dir, platform}``.

    ``loaded``: the inventory as :func:`vxlab.inventory.load` read it, when the caller has it
    already (``vxlab check --fidelity`` measures the same plan afterwards).

    ``ssh_sample``: SSH into that many vnodes of each pnode (spread over its vnodes) instead of
    into every vnode (None), for platforms of thousands of vnodes."""
    loaded = loaded or _inventory.load(inventory, extra_vars)
    plan = loaded.plan
    out = loaded.state_dir
    _render.render(plan, out, loaded.sources, loaded.extra_vars, loaded.hostvars)
    ssh_config = "%s/ssh_config" % out
    say = progress or (lambda line: None)
    parallel = max(1, int(parallel))

    if ssh_sample is None:
        vnodes = plan.vnodes
    else:
        vnodes = [v for p in plan.pnodes for v in sample_of(plan.vnodes_of(p.name), int(ssh_sample))]
    say("[check] ssh to %d vnodes of %s (%d in parallel)" % (len(vnodes), plan.spec.platform,
                                                             parallel))

    def ssh_one(v):
        rc, dummy, err = _run(ssh_argv(ssh_config, v["name"], ["true"]), SSH_TIMEOUT)
        return v["name"], rc, err

    ssh_ok, ssh_failed, errors = 0, [], {}
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        for i, (name, rc, err) in enumerate(pool.map(ssh_one, vnodes), 1):
            if rc == 0:
                ssh_ok += 1
            else:
                ssh_failed.append(name)
                errors[name] = _why(rc, err)
            if i % 100 == 0 or i == len(vnodes):
                say("[check] ssh %d/%d answered, %d failed" % (ssh_ok, i, len(ssh_failed)))

    sample = max(0, int(sample))
    by_pnode = {p.name: plan.vnodes_of(p.name) for p in plan.pnodes}
    names = [p.name for p in plan.pnodes if by_pnode[p.name]]
    sources = {n: sample_of(by_pnode[n], sample) for n in names}
    targets = {n: sample_of(by_pnode[n], sample) for n in names}
    jobs = []
    for src_pnode in names:
        dst_pnodes = [d for d in names if d != src_pnode] or [src_pnode]
        for src in sources[src_pnode]:
            dsts = [(d, t) for d in dst_pnodes for t in targets[d] if t["name"] != src["name"]]
            if dsts:
                jobs.append((src_pnode, src, dsts))
    say("[check] ping: %d source vnodes, %d pings" % (len(jobs), sum(len(j[2]) for j in jobs)))

    def ping_from(job):
        src_pnode, src, dsts = job
        rc, stdout, err = _run(ssh_argv(ssh_config, src["name"],
                                        _ping_remote([t["address"] for dummy, t in dsts])),
                               SSH_TIMEOUT + PING_SECONDS * len(dsts))
        answered = {}
        for line in stdout.splitlines():
            word, dummy, addr = line.partition(" ")
            if word in ("ok", "fail"):
                answered[addr.strip()] = word == "ok"
        return src_pnode, src, dsts, answered, _why(rc, err)

    pairs = {}
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        for src_pnode, src, dsts, answered, err in pool.map(ping_from, jobs):
            for dst_pnode, t in dsts:
                pair = pairs.setdefault((src_pnode, dst_pnode), {
                    "src_pnode": src_pnode, "dst_pnode": dst_pnode, "ok": 0, "failed": 0,
                    "failures": []})
                if answered.get(t["address"]):
                    pair["ok"] += 1
                else:
                    pair["failed"] += 1
                    why = err or ("no answer" if t["address"] in answered else "not run")
                    pair["failures"].append("%s -> %s (%s): %s" % (src["name"], t["name"],
                                                                   t["address"], why))
    order = {n: i for i, n in enumerate(names)}
    pair_list = [pairs[k] for k in sorted(pairs, key=lambda k: (order[k[0]], order[k[1]]))]
    for pair in pair_list:
        say("[check] ping %s -> %s: %d ok, %d failed"
            % (pair["src_pnode"], pair["dst_pnode"], pair["ok"], pair["failed"]))
    networks = _network_pairs(plan, ssh_config, sample, parallel, say)
    ok = not ssh_failed and all(p["failed"] == 0 for p in pair_list) and \
        all(p["failed"] == 0 for p in networks)
    result = {
        "networks": networks,
        "ok": ok,
        "platform": plan.spec.platform,
        "state_dir": out,
        "vnodes": len(vnodes),
        "ssh": {"ok": ssh_ok, "failed": ssh_failed, "errors": errors},
        "pairs": pair_list,
    }
    return result


def _network_pairs(plan, ssh_config, sample, parallel, say):
    """Pings between the data networks' members, counted per (from, to) network pair."""
    layout = plan.topology
    if layout is None or not sample:
        return []
    platform = plan.spec.platform
    nets = [n.name for n in plan.spec.topology.networks if layout.members(n.name)]
    picks = {n: sample_of(layout.members(n), sample) for n in nets}
    jobs = {}
    pairs = {}
    for src_net in nets:
        for dst_net in nets:
            pair = {"from": src_net, "to": dst_net, "ok": 0, "failed": 0, "failures": [],
                    "route": "direct" if src_net == dst_net else "routers"}
            pairs[(src_net, dst_net)] = pair
            if not layout.reaches(src_net, dst_net):
                pair["route"] = "none by design"
                continue
            for g in picks[src_net]:
                src_pnode = g // plan.spec.stride
                targets = [t for t in picks[dst_net] if t != g]
                if src_net == dst_net:  # within a network: members of other pnodes first
                    targets = [t for t in targets if t // plan.spec.stride != src_pnode] or targets
                for t in targets:
                    jobs.setdefault(g, []).append(((src_net, dst_net), t, layout.address[(t, dst_net)]))
    say("[check] data networks: %d source vnodes, %d pings over %d network pairs"
        % (len(jobs), sum(len(j) for j in jobs.values()), len(pairs)))

    def ping_from(item):
        g, todo = item
        name = "%s-%d" % (platform, g + 1)
        addresses = [_ntoa(a) for dummy, dummy2, a in todo]
        rc, stdout, err = _run(ssh_argv(ssh_config, name, _ping_remote(addresses)), SSH_TIMEOUT + PING_SECONDS * len(todo))
        answered = {}
        for line in stdout.splitlines():
            word, dummy, addr = line.partition(" ")
            if word in ("ok", "fail"):
                answered[addr.strip()] = word == "ok"
        return name, todo, answered, _why(rc, err)

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        for name, todo, answered, err in pool.map(ping_from, sorted(jobs.items())):
            for key, t, addr in todo:
                pair = pairs[key]
                text = _ntoa(addr)
                if answered.get(text):
                    pair["ok"] += 1
                else:
                    pair["failed"] += 1
                    why = err or ("no answer" if text in answered else "not run")
                    pair["failures"].append("%s -> %s-%d (%s on %s): %s" % (name, platform, t + 1, text, key[1], why))
    out = [pairs[(a, b)] for a in nets for b in nets]
    for pair in out:
        if pair["route"] == "none by design":
            say("[check] network %s -> %s: no route by design" % (pair["from"], pair["to"]))
        else:
            say("[check] network %s -> %s (%s): %d ok, %d failed"
                % (pair["from"], pair["to"], pair["route"], pair["ok"], pair["failed"]))
    return out


def _ntoa(value):
    return str(ipaddress.IPv4Address(value))
