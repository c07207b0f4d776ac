"""Why the kernel's cost per netns vnode grows with the vnodes already there (root).

    .venv/bin/python bench/bench_slowdown.py [--vnodes 10000] [--batch 1000] [--bridges 10]
                                             [--variants bridge,no-bridge,more-bridges,fd-netns]
                                             [--out bench/out/slowdown.json] [--results bench/RESULTS.md]
                                             [--plot bench/slowdown.png] [--no-perf]

The kernel objects of ``bench/floor.py`` (its helpers are imported), made in one process (no
workers, so the phases time cleanly) in consecutive batches of ``--batch`` vnodes. Vnode ``k``
goes to scratch pnode/bridge ``k mod B`` (round-robin: every batch adds the same number of ports
to every bridge, so the ports per bridge grow with the vnodes already there). Per batch, timed
separately:

(a) ``netns``: the batch's namespaces (``ip -batch`` of ``netns add``: a file and a bind mount
    in /run/netns each; the ``fd-netns`` variant instead ``unshare(CLONE_NEWNET)`` in this process
    and keeps an open fd, no mount);
(b) ``veth``: per pnode, in its namespace, one pyroute2 socket: per vnode a veth whose peer
    ``eth0`` is made directly in the vnode namespace (MAC, MTU);
(c) ``enslave``: the same, per host side: IPv6 address generation off, enslaved to ``br0``, up
    (``no-bridge``: not enslaved, only addrgen off and up);
(d) ``config``: per vnode, ``setns`` into it and one pyroute2 socket: eth0 addrgen off, lo up,
    the address, eth0 up, the default route.

Before the first variant, an untimed warm-up (50 vnodes made and deleted). Variants
(``--variants``, each from an empty state: its scratch pnodes made untimed, and between variants
the namespaces deleted and the kernel's namespace clean-up waited for):

* ``bridge``: as ``floor.py``: ``--bridges`` bridges;
* ``no-bridge``: the veths are left unenslaved (same namespaces, devices, addresses, routes):
  separates the bridge from the global numbers of namespaces, devices, mounts;
* ``more-bridges``: 10x ``--bridges`` bridges, so 10x fewer ports per bridge for the same global
  numbers: does the cost follow the ports per bridge or the global number of devices?
* ``fd-netns``: as ``bridge`` but no /run/netns files and bind mounts (namespaces held by open fds):
  do the mount table and the /run/netns directory (which ``netns add`` grow) matter?
* ``no-addr`` (not in the default set): as ``bridge`` but phase (d) without the address and the
  route: the address/route tables.

Kernel evidence: ``perf record -a -g -F 499 -e cpu-clock`` around the first and the last batch of
the main variant (``bridge`` if selected, else the first), aggregated from ``perf script``: the
kernel symbols' share of the samples of this process, its ``ip`` children and the kernel threads
(kworker, ksoftirqd, rcu: deferred work such as linkwatch and netns clean-up), self and inclusive;
the functions whose share grows are the evidence. Results: ``--out`` (JSON), the section between
``<!-- slowdown: begin -->`` and ``<!-- slowdown: end -->`` of ``--results``, the plot ``--plot``.
Everything made (namespaces ``zs<pid>-*``, open namespace fds, perf and its temp dir) is removed
in ``finally`` blocks.
"""
import argparse
import collections
import ctypes
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import floor  # noqa: E402
from bench_topology import write_section  # noqa: E402
from pyroute2 import IPRoute  # noqa: E402  (imported up front: no import in the first batch)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN, END = "<!-- slowdown: begin -->", "<!-- slowdown: end -->"
TAG = "zs%d-" % (os.getpid() % 10000)        # every namespace made here starts with it
NETWORK = "10.149"
GATEWAY = NETWORK + ".0.1"
PHASES = ("netns", "veth", "enslave", "config")
PHASE_DOC = {"netns": "(a) netns add", "veth": "(b) veth, peer into the vnode",
             "enslave": "(c) addrgen off + enslave + up", "config": "(d) in-namespace configuration"}
ADDRGEN_OFF = {"attrs": [["AF_INET6", {"attrs": [["IFLA_INET6_ADDR_GEN_MODE", 1]]}]]}
PERF_HZ = 499
VARIANTS = collections.OrderedDict([
    ("bridge", {"bridge": True, "mult": 1, "mounts": True, "addr": True,
                "doc": "as floor.py: B bridges, namespaces bind-mounted in /run/netns"}),
    ("no-bridge", {"bridge": False, "mult": 1, "mounts": True, "addr": True,
                   "doc": "veths not enslaved (no bridge ports), all else the same"}),
    ("more-bridges", {"bridge": True, "mult": 10, "mounts": True, "addr": True,
                      "doc": "10x the bridges: 10x fewer ports per bridge, same global counts"}),
    ("fd-netns", {"bridge": True, "mult": 1, "mounts": False, "addr": True,
                  "doc": "namespaces held by open fds (unshare), no /run/netns files or bind mounts"}),
    ("no-addr", {"bridge": True, "mult": 1, "mounts": True, "addr": False,
                 "doc": "(d) without the address and the default route"}),
])
DEFAULT_VARIANTS = "bridge,no-bridge,more-bridges,fd-netns"
KTHREADS = ("kworker", "ksoftirqd", "rcu", "kthreadd", "migration", "cpuhp", "khungtaskd")
# frames on (nearly) every stack: left out of the "grew most" ranking, which is about shares
GENERIC = {"ret_from_fork", "ret_from_fork_asm", "kthread", "worker_thread", "process_one_work", "do_syscall_64",
           "entry_SYSCALL_64_after_hwframe", "entry_SYSCALL_64", "x64_sys_call", "__schedule", "schedule",
           "finish_task_switch.isra.0", "smpboot_thread_fn", "handle_softirqs", "__do_softirq", "irq_exit_rcu",
           "sysvec_apic_timer_interrupt", "asm_sysvec_apic_timer_interrupt", "__sys_sendmsg", "___sys_sendmsg",
           "____sys_sendmsg", "sock_sendmsg", "__sock_sendmsg", "netlink_sendmsg", "netlink_unicast",
           "netlink_rcv_skb", "rtnetlink_rcv", "rtnetlink_rcv_msg", "[unknown]"}
# what each frame on a sample's stack says it is doing (prefix match; a sample may be in several)
CATEGORIES = collections.OrderedDict([
    ("bridge (br_*, nbp_*)", ("br_", "nbp_", "__br_")),
    ("linkwatch (carrier changes, deferred)", ("linkwatch_", "__linkwatch")),
    ("netns create (copy_net_ns, setup_net)", ("copy_net_ns", "setup_net", "ops_init")),
    ("mounts (bind mount, mount lookup)", ("do_mount", "path_mount", "do_loopback", "attach_recursive_mnt",
                                           "propagate_mnt", "__lookup_mnt", "lookup_mnt", "graft_tree",
                                           "copy_tree", "namespace_unlock", "lock_mount", "do_new_mount",
                                           "__do_sys_mount", "__x64_sys_mount", "umount_tree", "mnt_")),
    ("sysfs/kernfs", ("kernfs_", "sysfs_", "__kernfs")),
    ("ext4 (the /run/netns files, when on ext4)", ("ext4_", "__ext4_", "find_inode_bit", "recently_deleted",
                                                   "jbd2_", "__jbd2_")),
    ("device register/unregister", ("register_netdevice", "unregister_netdevice", "netdev_register_kobject",
                                    "dev_get_valid_name", "__dev_alloc_name", "netdev_name_node")),
    ("netdev notifiers", ("call_netdevice_notifiers", "raw_notifier_call_chain")),
    ("rtnl / mutex waits (on CPU)", ("rtnl_lock", "__rtnl_lock", "__mutex_lock", "mutex_spin_on_owner",
                                     "rtnl_net_lock", "osq_lock")),
    ("setns / nsfs", ("__x64_sys_setns", "__do_sys_setns", "validate_nsset", "commit_nsset", "nsfs_")),
    ("IPv4 address and route", ("inet_rtm_newaddr", "__inet_insert_ifa", "inet_rtm_newroute", "fib_", "fib6_")),
    ("RCU synchronisation", ("synchronize_rcu", "synchronize_net", "rcu_barrier", "__wait_rcu_gp")),
    ("netlink dumps/replies (rtnl_fill_ifinfo)", ("rtnl_fill_ifinfo", "rtnl_dump_ifinfo")),
])

_LIBC = ctypes.CDLL(None, use_errno=True)
OURS = {os.getpid()}       # this process and its `ip` children, for the perf aggregation


def say(line):
    print("[bench_slowdown %s] %s" % (time.strftime("%H:%M:%S"), line), file=sys.stderr, flush=True)


def run(argv, stdin=None, check=True):
    """``argv`` with ``stdin``; its pid joins OURS (perf attribution)."""
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    OURS.add(proc.pid)
    out, err = proc.communicate(stdin)
    if check and proc.returncode != 0:
        raise RuntimeError("%s failed (exit %d): %s" % (" ".join(argv[:5]), proc.returncode, (err or out).strip()[-500:]))
    return out


def our_netns():
    try:
        return sorted(n for n in os.listdir(floor.NETNS_DIR) if n.startswith(TAG))
    except OSError:
        return []


def netns_objects():
    """Active ``net_namespace`` slab objects: every namespace of the machine, also those being freed."""
    try:
        with open("/proc/slabinfo") as f:
            for line in f:
                if line.startswith("net_namespace "):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def run_netns_fs():
    """The file system type under /run/netns (the longest mount point above it)."""
    best, fstype = "", "?"
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                left, _sep, right = line.partition(" - ")
                mnt = left.split()[4]
                if (floor.NETNS_DIR + "/").startswith(mnt.rstrip("/") + "/") and len(mnt) >= len(best):
                    best, fstype = mnt, right.split()[0]
    except (OSError, IndexError):
        pass
    return fstype


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[:3]


def vnode(k, pnodes):
    """Vnode ``k`` (0-based): on pnode ``k mod pnodes``; host side ``h<k>``; address from .0.2 on."""
    a = k + 2
    return {"k": k, "name": "%sv%d" % (TAG, k), "pnode": "%sp%d" % (TAG, k % pnodes), "host_if": "h%d" % k,
            "address": "%s.%d.%d" % (NETWORK, a >> 8, a & 0xFF),
            "mac": "02:5a:%02x:%02x:%02x:%02x" % ((a >> 24) & 0xFF, (a >> 16) & 0xFF, (a >> 8) & 0xFF, a & 0xFF)}


class Perf(object):
    """``perf record -a -g`` around one batch; data and log in ``tmp``."""

    def __init__(self, tmp, label):
        self.data = os.path.join(tmp, "%s.data" % label)
        self.log = os.path.join(tmp, "%s.log" % label)
        self.proc = None

    def start(self):
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(["perf", "record", "-a", "-g", "-F", str(PERF_HZ), "-e", "cpu-clock",
                                          "-o", self.data], stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        time.sleep(2.0)     # untimed: perf must have its events open before the batch starts
        if self.proc.poll() is not None:
            raise RuntimeError("perf record exited at once: %s" % self._tail())

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def _tail(self):
        try:
            with open(self.log) as f:
                return f.read().strip()[-300:]
        except OSError:
            return ""


def perf_profile(data):
    """Aggregate ``perf script`` of ``data``: sample counts per scope and, for our samples (this
    process, its children, kernel threads), Counters of the leaf kernel symbol (self) and of every
    kernel symbol on the stack (inclusive, once per sample)."""
    proc = subprocess.Popen(["perf", "script", "-i", data, "-F", "comm,pid,ip,sym", "--no-inline"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, errors="replace")
    counts = collections.Counter()
    self_sym, incl_sym, cats = collections.Counter(), collections.Counter(), collections.Counter()
    depth = collections.Counter()       # summed distance from the leaf, per inclusive symbol
    kernel_leaf = [0]

    def done(sample):
        if sample is None:
            return
        comm, pid, frames = sample
        if pid == 0:
            scope = "idle"
        elif pid in OURS:
            scope = "ours"
        elif comm.startswith(KTHREADS):
            scope = "kthreads"
        else:
            scope = "other"
        counts[scope] += 1
        counts["all"] += 1
        if scope not in ("ours", "kthreads"):
            return
        counts["scope"] += 1
        if frames and frames[0][1]:
            self_sym[frames[0][0]] += 1
            kernel_leaf[0] += 1
        else:
            self_sym["[user space]"] += 1
        syms = {}
        for d, (sym, kern) in enumerate(frames):
            if kern and sym not in syms:
                syms[sym] = d
        for sym, d in syms.items():
            incl_sym[sym] += 1
            depth[sym] += d
        for cat, prefixes in CATEGORIES.items():
            if any(sym.startswith(prefixes) for sym in syms):
                cats[cat] += 1

    sample = None
    for line in proc.stdout:
        if not line.strip():
            continue
        if line[0] not in " \t":
            done(sample)
            head = line.split()
            pid = int(head[-1]) if head and head[-1].isdigit() else -1
            sample = (" ".join(head[:-1]), pid, [])
        elif sample is not None:
            addr, _sep, sym = line.strip().partition(" ")
            try:
                kern = int(addr, 16) >= 0xffff800000000000
            except ValueError:
                kern = False
            sample[2].append((sym.strip() or "[unknown]", kern))
    done(sample)
    proc.wait()
    if not counts["all"]:
        raise RuntimeError("perf script gave no samples (exit %s)" % proc.returncode)
    counts["kernel_leaf"] = kernel_leaf[0]
    incl = dict(incl_sym.most_common(400))
    return {"counts": dict(counts), "self": dict(self_sym.most_common(200)), "inclusive": incl,
            "depth": {sym: depth[sym] / float(incl[sym]) for sym in incl}, "categories": dict(cats)}


def settle(baseline, slack, timeout=180.0):
    """Wait until the kernel has freed the namespaces deleted (net_namespace slab back near
    ``baseline``); seconds waited."""
    t0 = time.perf_counter()
    if baseline is None:
        time.sleep(2.0)
        return time.perf_counter() - t0
    while time.perf_counter() - t0 < timeout:
        n = netns_objects()
        if n is None or n <= baseline + slack:
            break
        time.sleep(0.25)
    return time.perf_counter() - t0


def wait_ports_gone(pnodes, stall=30.0):
    """Until the pnodes hold only lo and br0 (every host-side veth gone with its vnode), or no
    progress for ``stall`` seconds; host sides left."""
    best, since = None, time.monotonic()
    while True:
        left = 0
        for p in pnodes:
            out = run(["ip", "-n", p, "-o", "link", "show"], check=False)
            left += max(0, len(out.splitlines()) - 2)
        if not left:
            return 0
        if best is None or left < best:
            best, since = left, time.monotonic()
        elif time.monotonic() - since > stall:
            return left
        time.sleep(0.2)


class Variant(object):
    def __init__(self, name, spec, args):
        self.name, self.spec, self.args = name, spec, args
        self.bridges = args.bridges * spec["mult"]
        self.pnodes = floor.pnode_names(TAG, self.bridges)
        self.fds = {}               # fd-netns: vnode name -> namespace fd
        self.made = 0
        self.root = os.open("/proc/self/ns/net", os.O_RDONLY)

    def close(self):
        try:
            floor.setns(self.root)
        finally:
            os.close(self.root)

    def netns_add(self, batch):
        if self.spec["mounts"]:
            run(["ip", "-batch", "-"], stdin="".join("netns add %s\n" % v["name"] for v in batch))
            return
        for v in batch:
            if _LIBC.unshare(floor.CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, "unshare(CLONE_NEWNET): " + os.strerror(err))
            try:
                self.fds[v["name"]] = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
            finally:
                floor.setns(self.root)

    def vnode_fd(self, v):
        """(fd, close it after) of ``v``'s namespace."""
        if v["name"] in self.fds:
            return self.fds[v["name"]], False
        return os.open(os.path.join(floor.NETNS_DIR, v["name"]), os.O_RDONLY), True

    def batch(self, start, count):
        vs = [vnode(k, self.bridges) for k in range(start, start + count)]
        by_pnode = collections.OrderedDict()
        for v in vs:
            by_pnode.setdefault(v["pnode"], []).append(v)
        t = {}
        t0 = time.perf_counter()
        self.netns_add(vs)
        t["netns"] = time.perf_counter() - t0
        self.made = start + count
        t0 = time.perf_counter()
        for p, pvs in by_pnode.items():
            floor.enter(os.path.join(floor.NETNS_DIR, p))
            with IPRoute() as ipr:
                for v in pvs:
                    fd, close = self.vnode_fd(v)
                    try:
                        ipr.link("add", ifname=v["host_if"], kind="veth", mtu=floor.MTU,
                                 peer={"ifname": "eth0", "net_ns_fd": fd, "address": v["mac"], "mtu": floor.MTU})
                    finally:
                        if close:
                            os.close(fd)
        floor.setns(self.root)
        t["veth"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for p, pvs in by_pnode.items():
            floor.enter(os.path.join(floor.NETNS_DIR, p))
            with IPRoute() as ipr:
                bridge = ipr.link_lookup(ifname=floor.BRIDGE)[0] if self.spec["bridge"] else None
                for v in pvs:
                    idx = ipr.link_lookup(ifname=v["host_if"])[0]
                    ipr.link("set", index=idx, IFLA_AF_SPEC=ADDRGEN_OFF)
                    if bridge is not None:
                        ipr.link("set", index=idx, master=bridge, state="up")
                    else:
                        ipr.link("set", index=idx, state="up")
        floor.setns(self.root)
        t["enslave"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for v in vs:
            fd, close = self.vnode_fd(v)
            try:
                floor.setns(fd)
            finally:
                if close:
                    os.close(fd)
            with IPRoute() as ipr:
                eth0 = ipr.link_lookup(ifname="eth0")[0]
                ipr.link("set", index=eth0, IFLA_AF_SPEC=ADDRGEN_OFF)
                ipr.link("set", index=1, state="up")
                if self.spec["addr"]:
                    ipr.addr("add", index=eth0, address=v["address"], prefixlen=16)
                ipr.link("set", index=eth0, state="up")
                if self.spec["addr"]:
                    ipr.route("add", dst="0.0.0.0/0", gateway=GATEWAY)
        floor.setns(self.root)
        t["config"] = time.perf_counter() - t0
        t["total"] = sum(t[p] for p in PHASES)
        return t

    def ports(self):
        if not self.spec["bridge"]:
            return 0
        return sum(len(run(["ip", "-n", p, "-o", "link", "show", "master", floor.BRIDGE]).splitlines())
                   for p in self.pnodes)

    def teardown(self, quick=False):
        """Delete the vnodes (or close their fds), wait for the host sides to go (not if ``quick``),
        delete the pnodes."""
        floor.setns(self.root)      # an error may have left this process in a vnode, which it would pin
        t0 = time.perf_counter()
        names = [n for n in our_netns() if n.startswith(TAG + "v")]
        if names:
            run(["ip", "-force", "-batch", "-"], stdin="".join("netns del %s\n" % n for n in names), check=False)
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()
        left = None if quick else wait_ports_gone([p for p in self.pnodes
                                                   if os.path.exists(os.path.join(floor.NETNS_DIR, p))])
        seconds = time.perf_counter() - t0
        pn = list(our_netns())
        if pn:
            run(["ip", "-force", "-batch", "-"], stdin="".join("netns del %s\n" % n for n in pn), check=False)
        return seconds, left


def warmup(args):
    """Untimed: a few vnodes made and deleted, so that the first timed batch pays no first-use costs."""
    var = Variant("warmup", VARIANTS["bridge"], argparse.Namespace(bridges=1))
    try:
        floor.scratch_pnodes(TAG, 1)
        var.batch(0, min(50, args.batch))
    finally:
        try:
            var.teardown()
        finally:
            var.close()


def run_variant(name, args, tmp, perf_on, baseline, results):
    """Variant ``name``, its result appended to ``results`` at once (so an interrupt keeps what was done)."""
    spec = VARIANTS[name]
    res = {"variant": name, "doc": spec["doc"], "bridges": args.bridges * spec["mult"], "batches": [],
           "load_before": loadavg(), "errors": []}
    results.append(res)
    if not spec["mounts"]:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = args.vnodes + 1024
        if soft < need:
            if hard != resource.RLIM_INFINITY and hard < need:
                res["errors"].append("fd-netns needs %d open files, hard limit %d" % (need, hard))
                return res
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    var = Variant(name, spec, args)
    say("%s: %s (%d bridges)" % (name, spec["doc"], var.bridges))
    t_start = time.perf_counter()
    quick = False
    try:
        floor.scratch_pnodes(TAG, var.bridges)
        starts = list(range(0, args.vnodes, args.batch))
        for i, start in enumerate(starts):
            count = min(args.batch, args.vnodes - start)
            perf = Perf(tmp, "%s-%d" % (name, start)) if perf_on and i in (0, len(starts) - 1) else None
            try:
                if perf:
                    try:
                        perf.start()
                    except (OSError, RuntimeError) as e:
                        res["errors"].append("perf: %s" % e)
                        perf.stop()
                        perf = None
                t = var.batch(start, count)
            finally:
                if perf:
                    perf.stop()
            t.update({"start": start, "count": count, "perf": perf.data if perf else None})
            res["batches"].append(t)
            say("%s %6d-%-6d netns %.2f veth %.2f enslave %.2f config %.2f = %.2f s (%.0f vnodes/s)%s"
                % (name, start, start + count, t["netns"], t["veth"], t["enslave"], t["config"], t["total"],
                   count / t["total"], " [perf]" if perf else ""))
        res["ports"] = var.ports()
    except KeyboardInterrupt:
        quick = True
        raise
    except Exception as e:  # noqa: BLE001 -- record, tear down, go on with the next variant
        res["errors"].append("%s: %s" % (type(e).__name__, e))
        say("%s FAILED: %s" % (name, e))
    finally:
        try:
            res["teardown"], res["teardown_left"] = var.teardown(quick)
            if not quick:
                res["settle"] = settle(baseline, max(64, args.vnodes // 50))
        finally:
            var.close()
    res["seconds"] = time.perf_counter() - t_start
    res["load_after"] = loadavg()
    say("%s: %.1f s in all (teardown %.1f s, settle %.1f s)"
        % (name, res["seconds"], res.get("teardown", 0), res.get("settle", 0)))
    return res


def per1000(b, phase):
    return b[phase] * 1000.0 / b["count"]


def ratio(a, b):
    return b / a if a > 0 else float("nan")


def growth(res):
    """Per phase: (first, last) seconds per 1,000 vnodes, ratio, delta."""
    bs = res["batches"]
    if len(bs) < 2:
        return {}
    out = {}
    for phase in PHASES + ("total",):
        a, b = per1000(bs[0], phase), per1000(bs[-1], phase)
        out[phase] = {"first": a, "last": b, "ratio": ratio(a, b), "delta": b - a}
    return out


def perf_compare(first, last, top=15):
    """Rows (symbol, first share, last share, first CPU-s, last CPU-s) for self and inclusive kernel
    symbols and for the categories; shares are of the kernel samples (leaf in the kernel) in scope."""
    out = {}
    fa, la = first["counts"].get("kernel_leaf", 0) or 1, last["counts"].get("kernel_leaf", 0) or 1
    for kind in ("self", "inclusive", "categories"):
        rows = []
        for s in set(first[kind]) | set(last[kind]):
            if s == "[user space]":
                continue
            f, l_ = first[kind].get(s, 0), last[kind].get(s, 0)
            rows.append({"sym": s, "first": 100.0 * f / fa, "last": 100.0 * l_ / la,
                         "first_s": f / float(PERF_HZ), "last_s": l_ / float(PERF_HZ)})
        if kind == "categories":
            out[kind] = sorted(rows, key=lambda r: -r["last"])
            continue
        out[kind + "_top"] = sorted(rows, key=lambda r: -r["last"])[:top]
        grew = sorted((r for r in rows if r["sym"] not in GENERIC), key=lambda r: -(r["last"] - r["first"]))
        if kind == "inclusive":
            # a chain of callers with exactly the samples of their callee says nothing more: keep the
            # frame nearest the leaf of each such group
            dep = last.get("depth", {})
            best = {}
            for r in grew:
                key = (round(r["first_s"] * PERF_HZ), round(r["last_s"] * PERF_HZ))
                if key not in best or dep.get(r["sym"], 0) < dep.get(best[key]["sym"], 0):
                    best[key] = r
            kept = set(id(r) for r in best.values())
            grew = [r for r in grew if id(r) in kept]
        out[kind + "_grew"] = grew[:top]
    return out


def fmt_range(b):
    return "%s-%s" % ("{:,}".format(b["start"]), "{:,}".format(b["start"] + b["count"]))


def explain(result):
    """The plain "what grows and why" sentences, computed from the numbers."""
    g = {r["variant"]: growth(r) for r in result["variants"] if growth(r)}
    lines = []
    if not g:
        return ["Too few batches to compare a first and a last batch."]
    for name, gr in g.items():
        parts = ", ".join("%s x%.2f (%+.2f s)" % (p, gr[p]["ratio"], gr[p]["delta"]) for p in PHASES)
        lines.append("`%s`: %.2f -> %.2f s per 1,000 vnodes from the first to the last batch (x%.2f); per phase %s."
                     % (name, gr["total"]["first"], gr["total"]["last"], gr["total"]["ratio"], parts))
    b = g.get("bridge")

    def cmp(other, phases, what):
        o = g.get(other)
        if not (b and o):
            return
        bits = []
        for p in phases:
            db, do = b[p]["delta"], o[p]["delta"]
            share = (db - do) / db if db >= 0.2 else None
            if share is None:
                note = ""
            elif share >= 1.0:
                note = "; all of it absent here"
            elif share <= 0.0:
                note = "; none of it absent here"
            else:
                note = "; %.0f%% of it absent here" % (100 * share)
            bits.append("%s %+.2f s (`bridge`: %+.2f s%s)" % (p, do, db, note))
        lines.append("%s, change from the first to the last batch per 1,000 vnodes: %s." % (what, "; ".join(bits)))

    cmp("no-bridge", ("enslave", "config", "veth"), "Without bridge ports (`no-bridge`)")
    cmp("more-bridges", ("enslave", "config"), "With %dx the bridges (`more-bridges`, %d ports per bridge at the end "
        "instead of %d)" % (VARIANTS["more-bridges"]["mult"], result["vnodes"] // max(1, result["bridges"] * 10),
                            result["vnodes"] // max(1, result["bridges"])))
    cmp("fd-netns", ("netns", "veth", "config"), "Without /run/netns files and bind mounts (`fd-netns`)")
    cmp("no-addr", ("config",), "Without address and route (`no-addr`)")
    pc = result.get("perf_compare")
    if pc:
        cats = [r for r in pc["categories"] if r["last"] - r["first"] >= 1.0]
        cats.sort(key=lambda r: -(r["last"] - r["first"]))
        if cats:
            lines.append("perf (`%s`, first vs last batch, share of the kernel samples of this process, its children "
                         "and kernel threads), the kinds of kernel work whose share grew: %s." % (
                             result["perf_variant"], ", ".join("%s %.1f%% -> %.1f%% (%.2f -> %.2f CPU-s)" % (
                                 r["sym"], r["first"], r["last"], r["first_s"], r["last_s"]) for r in cats[:5])))
        grew = [r for r in pc["inclusive_grew"] if r["last"] - r["first"] >= 1.0][:6]
        if grew:
            lines.append("The kernel functions whose inclusive share grew most: %s." % ", ".join(
                "`%s` %.1f%% -> %.1f%% (%.2f -> %.2f CPU-s)" % (r["sym"], r["first"], r["last"], r["first_s"], r["last_s"])
                for r in grew))
        sgrew = [r for r in pc["self_grew"] if r["last"] - r["first"] >= 0.5][:6]
        if sgrew:
            lines.append("Self (leaf) time that grew most: %s." % ", ".join(
                "`%s` %.1f%% -> %.1f%%" % (r["sym"], r["first"], r["last"]) for r in sgrew))
    elif result.get("perf_error"):
        lines.append("No perf evidence: %s; the conclusions rest on the elimination alone." % result["perf_error"])
    return lines


def _frac(counts, part, whole):
    return "%d/%d (%.0f%%)" % (counts.get(part, 0), counts.get(whole, 0),
                               100.0 * counts.get(part, 0) / max(1, counts.get(whole, 0)))


def markdown(result, plot_rel):
    m = result["machine"]
    lines = [BEGIN, "## Slowdown: what makes the kernel's cost per netns vnode grow", "",
             "Command: `.venv/bin/python %s` (took %.0f s)  " % (result["command"], result.get("seconds", 0)),
             "Machine: %s; `nproc` %s; kernel %s; load average at start %s, at end %s; %d other namespaces "
             "in /run/netns at start (another run may share the machine); /run/netns on %s" % (
                 result["date"], m["cpus"], m["kernel"], " ".join(m["load_before"]), " ".join(m.get("load_after", [])),
                 m.get("other_netns", 0), m.get("run_netns_fs", "?")), "",
             "One process; vnodes made in batches of %s, vnode k on scratch bridge k mod B (round-robin, so every "
             "batch adds the same number of ports to every bridge). Phases: %s. Seconds per batch; `*` = batch "
             "under `perf record` (slightly slower)." % ("{:,}".format(result["batch"]), "; ".join(
                 PHASE_DOC[p] for p in PHASES)), ""]
    if result.get("errors"):
        lines += ["Errors: " + "; ".join(result["errors"]), ""]
    for r in result["variants"]:
        lines += ["### `%s`: %s (B = %d)" % (r["variant"], r["doc"], r["bridges"]), ""]
        if r["errors"]:
            lines += ["Errors: " + "; ".join(r["errors"]), ""]
        if not r["batches"]:
            continue
        lines += ["| vnodes | netns | veth | enslave | config | total | vnodes/s |", "|---|---:|---:|---:|---:|---:|---:|"]
        for b in r["batches"]:
            lines.append("| %s%s | %.2f | %.2f | %.2f | %.2f | %.2f | %.0f |" % (
                fmt_range(b), " *" if b.get("perf") else "", b["netns"], b["veth"], b["enslave"], b["config"],
                b["total"], b["count"] / b["total"]))
        gr = growth(r)
        if gr:
            lines.append("| last/first | x%.2f | x%.2f | x%.2f | x%.2f | x%.2f | |" % tuple(
                gr[p]["ratio"] for p in PHASES + ("total",)))
        lines += ["", "Ports at the end: %s; teardown %.1f s (host sides left: %s), kernel namespace clean-up "
                  "waited %.1f s." % (r.get("ports", "?"), r.get("teardown", 0), r.get("teardown_left", "?"),
                                      r.get("settle", 0)), ""]
    pc = result.get("perf_compare")
    if pc:
        pf = result["perf"]
        lines += ["### perf: kernel symbols, first vs last batch of `%s`" % result["perf_variant"], "",
                  "`perf record -a -g -F %d -e cpu-clock`, `perf script` aggregated here. In scope: this process, "
                  "its `ip` children and the kernel threads (kworker, ksoftirqd, rcu; these may also work for other "
                  "processes). Samples in scope / all: %s in the first batch, %s in the last; of those in scope, "
                  "in the kernel: %s and %s (the rest is user space, mostly Python). Shares below are of the "
                  "kernel samples in scope; CPU-s = samples / %d Hz." % (
                      PERF_HZ, _frac(pf["first"]["counts"], "scope", "all"), _frac(pf["last"]["counts"], "scope", "all"),
                      _frac(pf["first"]["counts"], "kernel_leaf", "scope"),
                      _frac(pf["last"]["counts"], "kernel_leaf", "scope"), PERF_HZ), ""]
        for kind, title, head in (
                ("categories", "Kinds of kernel work (a sample counts in every kind found on its stack)", "kind"),
                ("self_top", "Top self (leaf) kernel symbols in the last batch", "symbol"),
                ("inclusive_grew", "Kernel functions on the stack whose share grew most (frames on nearly every "
                 "stack, such as syscall entry and netlink plumbing, left out; of callers with exactly the samples "
                 "of a callee, only the callee)", "symbol")):
            lines += ["%s:" % title, "", "| %s | first batch | last batch | CPU-s first | CPU-s last |" % head,
                      "|---|---:|---:|---:|---:|"]
            for row in pc[kind]:
                lines.append("| %s | %.1f%% | %.1f%% | %.2f | %.2f |" % (
                    row["sym"] if kind == "categories" else "`%s`" % row["sym"], row["first"], row["last"],
                    row["first_s"], row["last_s"]))
            lines.append("")
    elif result.get("perf_error"):
        lines += ["perf: %s (elimination only)." % result["perf_error"], ""]
    lines += ["### What grows and why", ""] + explain(result) + [""]
    if plot_rel:
        lines += ["![seconds per 1,000 vnodes vs vnodes already there](%s)" % plot_rel, ""]
    lines.append(END)
    return "\n".join(lines) + "\n"


def plot(result, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = PHASES + ("total",)
    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5))
    axes = axes.flatten()
    for ax, phase in zip(axes, panels):
        for r in result["variants"]:
            if not r["batches"]:
                continue
            xs = [b["start"] for b in r["batches"]]
            ys = [per1000(b, phase) for b in r["batches"]]
            ax.plot(xs, ys, marker="o", label=r["variant"])
        ax.set_title(PHASE_DOC.get(phase, "total (a-d)"), fontsize=10)
        ax.set_xlabel("vnodes already there")
        ax.set_ylabel("s per 1,000 vnodes")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[-1].axis("off")
    handles, labels = axes[0].get_legend_handles_labels()
    axes[-1].legend(handles, labels, loc="center", title="variant")
    fig.suptitle("Cost per 1,000 netns vnodes vs vnodes already there (%s, batches of %s, B=%d bridges)"
                 % (m_kernel(result), "{:,}".format(result["batch"]), result["bridges"]), fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def m_kernel(result):
    return "kernel " + result["machine"]["kernel"]


def cleanup_all():
    names = our_netns()
    if names:
        subprocess.run(["ip", "-force", "-batch", "-"], input="".join("netns del %s\n" % n for n in names),
                       text=True, capture_output=True, check=False)
    return names


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vnodes", type=int, default=10000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--bridges", type=int, default=10)
    ap.add_argument("--variants", default=DEFAULT_VARIANTS, help="comma-separated, of: %s" % ", ".join(VARIANTS))
    ap.add_argument("--no-perf", action="store_true", help="elimination only")
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "out", "slowdown.json"))
    ap.add_argument("--results", default=os.path.join(REPO, "bench", "RESULTS.md"))
    ap.add_argument("--plot", default=os.path.join(REPO, "bench", "slowdown.png"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench_slowdown.py needs root (namespaces, perf)")
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    bad = [v for v in variants if v not in VARIANTS]
    if bad or not variants:
        raise SystemExit("unknown variants %s (known: %s)" % (bad, ", ".join(VARIANTS)))
    if args.vnodes + 2 > 65534 or args.batch < 1 or args.bridges < 1:
        raise SystemExit("need 1 <= --batch, 1 <= --bridges, --vnodes <= 65532 (one /16)")

    def on_term(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)

    signal.signal(signal.SIGTERM, on_term)
    perf_variant = "bridge" if "bridge" in variants else variants[0]
    cmd = "bench/bench_slowdown.py --vnodes %d --batch %d --bridges %d --variants %s%s" % (
        args.vnodes, args.batch, args.bridges, ",".join(variants), " --no-perf" if args.no_perf else "")
    result = {"command": cmd, "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
              "machine": {"cpus": os.cpu_count(), "kernel": os.uname().release, "load_before": loadavg(),
                          "run_netns_fs": run_netns_fs(),
                          "other_netns": len([n for n in os.listdir(floor.NETNS_DIR) if not n.startswith(TAG)])
                          if os.path.isdir(floor.NETNS_DIR) else 0},
              "vnodes": args.vnodes, "batch": args.batch, "bridges": args.bridges, "prefix": TAG,
              "distribution": "round-robin: vnode k on bridge k mod B", "perf_variant": perf_variant,
              "variants": [], "errors": []}
    tmp = tempfile.mkdtemp(prefix="%sperf-" % TAG)
    started = time.perf_counter()
    perf_ok = not args.no_perf and shutil.which("perf") is not None
    if not args.no_perf and not perf_ok:
        result["perf_error"] = "perf not found"
    elif args.no_perf:
        result["perf_error"] = "--no-perf"
    try:
        baseline = netns_objects()
        result["netns_objects_baseline"] = baseline
        warmup(args)
        for name in variants:
            r = run_variant(name, args, tmp, perf_ok and name == perf_variant, baseline, result["variants"])
            if name == perf_variant and perf_ok:
                files = [b["perf"] for b in r["batches"] if b.get("perf")]
                perf_errors = [e for e in r["errors"] if e.startswith("perf")]
                try:
                    if len(files) >= 2 and not perf_errors:
                        result["perf"] = {"first": perf_profile(files[0]), "last": perf_profile(files[-1])}
                        result["perf_compare"] = perf_compare(result["perf"]["first"], result["perf"]["last"])
                    else:
                        result["perf_error"] = "; ".join(perf_errors) or "fewer than two batches recorded"
                except (OSError, RuntimeError) as e:
                    result["perf_error"] = "perf script: %s" % e
                for b in r["batches"]:      # the data files are temporary
                    b["perf"] = bool(b.get("perf"))
    except KeyboardInterrupt:
        result["errors"].append("interrupted")
        say("interrupted: cleaning up")
        raise
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)    # the clean-up must not be cut short
        for r in result["variants"]:
            for b in r["batches"]:
                b["perf"] = bool(b.get("perf"))
        left = cleanup_all()
        if left:
            say("deleted %d leftover namespaces" % len(left))
        shutil.rmtree(tmp, ignore_errors=True)
        result["seconds"] = time.perf_counter() - started
        result["machine"]["load_after"] = loadavg()
        if result["variants"]:
            os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
            with open(args.out, "w") as f:
                json.dump(result, f, indent=1)
            plot_rel = None
            try:
                plot(result, args.plot)
                plot_rel = os.path.relpath(os.path.abspath(args.plot), os.path.dirname(os.path.abspath(args.results)))
            except Exception as e:  # noqa: BLE001 -- the tables matter more than the figure
                result["errors"].append("plot: %s" % e)
            if "interrupted" in result["errors"]:
                say("interrupted: wrote %s and %s only (%s left as it was)" % (args.out, args.plot, args.results))
            else:
                write_section(args.results, markdown(result, plot_rel), BEGIN, END)
                say("wrote %s, %s, %s" % (args.out, args.results, args.plot))
        left = our_netns()
        if left:
            say("WARNING: namespaces left: %s" % " ".join(left))
        signal.signal(signal.SIGINT, signal.default_int_handler)
    failed = [r["variant"] for r in result["variants"] if r["errors"]]
    return 1 if failed or result["errors"] else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
