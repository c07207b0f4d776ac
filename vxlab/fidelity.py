"""The emulation checked against its own description (``vxlab check --fidelity``).

For every matrix entry (``vxlab_link_matrix``, or a sample of ``--sample K`` of them) one source
vnode of ``from`` and one destination of ``to`` (on another pnode when there is one): the
throughput with iperf3 against the asked ``rate``; with a ``delay``, the RTT with ping against
the asked delay (plus the reverse entry's, when one shapes the way back) plus the base RTT of the
same pair over the management network, which the matrix never shapes. For every group with a
``cpu`` limit, one vnode: a busy loop's share of a core against the cap. Each measure has its
asked value, measured value, ratio and whether it is within tolerance; ``fidelity.json`` and
``fidelity.md`` are written beside the platform's files. Any measure outside tolerance fails the
check.

Every remote command is a constant script with validated arguments (addresses, port, seconds),
single-quoted for the remote shell.
"""
import json
import os
import re
import time

from vxlab import check as _check

#: relative tolerance of a throughput (iperf3 over HTB is within a few percent)
RATE_TOLERANCE = 0.10
#: an RTT may exceed the asked delay + base by this much (queueing, scheduling), relative
DELAY_TOLERANCE = 0.20
#: a CPU share must lie within [cap x (1 - this), cap x (1 + this)]
CPU_TOLERANCE = 0.20
IPERF_SECONDS = 4
PORT = 5299
BUSY_SECONDS = 3

_IPERF_SERVER = 'exec iperf3 -s -1 -D -p "$1"'
_IPERF_CLIENT = 'exec iperf3 -c "$1" -p "$2" -t "$3" -J'
_PING = 'exec ping -q -c "$2" -i 0.2 -W 2 "$1"'
_BUSY = ('TIMEFORMAT="%U %S"; { time timeout "$1" sh -c "while :; do :; done"; } 2>&1 | tail -n 1')


def _remote(script, *args, shell="sh"):
    words = [shell, "-c", script, "vxlab-fidelity"] + [str(a) for a in args]
    return ["'%s'" % w.replace("'", "'\\''") for w in words]


def _num(text):
    if not re.match(r"^[0-9]+$", str(text)):
        raise ValueError("not a number: %r" % (text,))
    return str(text)


class Remote:
    """Commands in vnodes over the platform's ssh_config (``ssh -F``)."""

    def __init__(self, ssh_config):
        self.ssh_config = ssh_config

    def run(self, vnode, words, timeout):
        return _check._run(_check.ssh_argv(self.ssh_config, vnode, words), timeout)

    def throughput(self, src, dst, address, seconds=IPERF_SECONDS, port=PORT):
        """Mbit/s received from ``src`` at ``address`` (an address of ``dst``), or an error text."""
        rc, out, err = self.run(dst, _remote(_IPERF_SERVER, _num(port)), 30)
        if rc != 0:
            return None, "iperf3 server in %s: %s" % (dst, err or out)
        time.sleep(0.3)
        rc, out, err = self.run(src, _remote(_IPERF_CLIENT, _check._ipv4(address), _num(port), _num(seconds)),
                                seconds + 60)
        if rc != 0:
            return None, "iperf3 from %s to %s: %s" % (src, address, (err or out)[-300:])
        try:
            return json.loads(out)["end"]["sum_received"]["bits_per_second"] / 1e6, None
        except (ValueError, KeyError) as exc:
            return None, "iperf3 from %s: unreadable output (%s)" % (src, exc)

    def rtt(self, src, address, count=10):
        """Average RTT in ms from ``src`` to ``address``, or an error text."""
        rc, out, err = self.run(src, _remote(_PING, _check._ipv4(address), _num(count)), 60)
        m = re.search(r"= [0-9.]+/([0-9.]+)/", out)
        if rc != 0 or not m:
            return None, "ping from %s to %s: %s" % (src, address, (err or out)[-300:])
        return float(m.group(1)), None

    def cpu_share(self, vnode, seconds=BUSY_SECONDS):
        """A busy loop's share of one core in ``vnode`` (0..1), or an error text."""
        # bash: its ``time`` keyword reports the loop's CPU time (user, system) on its own
        rc, out, err = self.run(vnode, _remote(_BUSY, _num(seconds), shell="bash"), seconds + 60)
        parts = out.split()
        try:
            return (float(parts[-2]) + float(parts[-1])) / seconds, None
        except (ValueError, IndexError):
            return None, "busy loop in %s: %s" % (vnode, (err or out)[-300:])


# ----------------------------------------------------------------------------------------------
# what to measure (pure)


def pairs(plan, sample=None):
    """``[{entry, from, to, src, dst, address, network, asked: {rate Mbit/s, delay ms}, reverse_delay}]``:
    one measured pair per matrix entry (the first ``sample`` entries when given)."""
    m = plan.matrix
    if m is None:
        return []
    table = m.table()
    out = []
    for k, e in enumerate(table):
        if sample is not None and len(out) >= sample:
            break
        sources = sorted(m.sources(k))
        chosen = None
        for g in sources:
            classes = m.classes_of(g)
            nets = [net for pairs_ in classes.values() for kk, net in pairs_ if kk == k]
            if not nets:
                continue
            net = nets[0]
            dst_members = [d for d in sorted(m.members(e["to"])) if d != g and (d, net) in plan.topology.address]
            if not dst_members:
                continue
            remote = [d for d in dst_members if d // plan.spec.stride != g // plan.spec.stride]
            d = (remote or dst_members)[0]
            chosen = (g, d, net)
            break
        if chosen is None:
            continue
        g, d, net = chosen
        settings = e["settings"]
        reverse = [x for x in table if x["from"] == e["to"] and x["to"] == e["from"]]
        out.append({"entry": k, "from": e["from"], "to": e["to"], "src": "%s-%d" % (plan.spec.platform, g + 1),
                    "dst": "%s-%d" % (plan.spec.platform, d + 1), "network": net,
                    "address": _ntoa(plan.topology.address[(d, net)]),
                    "asked": dict(([("rate", settings["rate"] / 1e6)] if settings.get("rate") else [])
                                  + ([("delay", settings["delay"] / 1000.0)] if settings.get("delay") else [])),
                    "reverse_delay": (reverse[0]["settings"].get("delay") or 0) / 1000.0 if reverse else 0.0})
    return out


def _ntoa(value):
    return "%d.%d.%d.%d" % (value >> 24 & 255, value >> 16 & 255, value >> 8 & 255, value & 255)


def cpu_groups(plan):
    """``[{group, vnode, asked}]``: one vnode per group with a cpu limit."""
    topo = plan.spec.topology
    if topo is None:
        return []
    out = []
    for g in topo.groups:
        cpu = dict(g.limits).get("cpu")
        if cpu:
            out.append({"group": g.name, "vnode": "%s-%d" % (plan.spec.platform, g.members[0] + 1), "asked": cpu})
    return out


def judge_rate(asked, measured, tolerance=RATE_TOLERANCE):
    ratio = measured / asked if asked else None
    return ratio, ratio is not None and abs(ratio - 1) <= tolerance


def judge_delay(expected, measured, tolerance=DELAY_TOLERANCE):
    ratio = measured / expected if expected else None
    return ratio, ratio is not None and (1 - tolerance) <= ratio <= (1 + tolerance)


def judge_cpu(asked, measured, tolerance=CPU_TOLERANCE):
    ratio = measured / asked if asked else None
    return ratio, ratio is not None and (1 - tolerance) <= ratio <= (1 + tolerance)


# ----------------------------------------------------------------------------------------------
# the run


def fidelity(plan, ssh_config, out_dir, sample=None, say=None, remote=None):
    """Measure; write ``fidelity.json`` and ``fidelity.md`` in ``out_dir``; return the report."""
    say = say or (lambda line: None)
    remote = remote or Remote(ssh_config)
    entries, cpus = [], []
    for p in pairs(plan, sample):
        e = {"entry": p["entry"], "from": p["from"], "to": p["to"], "src": p["src"], "dst": p["dst"],
             "address": p["address"], "network": p["network"], "asked": p["asked"], "measured": {}, "ratio": {},
             "errors": [], "ok": True}
        if "rate" in p["asked"]:
            mbit, err = remote.throughput(p["src"], p["dst"], p["address"])
            if err:
                e["errors"].append(err)
            else:
                e["measured"]["rate"] = round(mbit, 3)
                e["ratio"]["rate"], good = judge_rate(p["asked"]["rate"], mbit)
                e["ok"] = e["ok"] and good
        if "delay" in p["asked"]:
            mgmt = [v for v in plan.vnodes if v["name"] == p["dst"]][0]["address"]
            base, err1 = remote.rtt(p["src"], mgmt)
            rtt, err2 = remote.rtt(p["src"], p["address"])
            if err1 or err2:
                e["errors"].append(err1 or err2)
            else:
                expected = p["asked"]["delay"] + p["reverse_delay"] + base
                e["measured"]["rtt"] = round(rtt, 3)
                e["asked"]["rtt"] = round(expected, 3)
                e["ratio"]["rtt"], good = judge_delay(expected, rtt)
                e["ok"] = e["ok"] and good
        if e["errors"]:
            e["ok"] = False
        say("[fidelity] %s -> %s (%s -> %s): asked %s, measured %s: %s"
            % (e["from"], e["to"], e["src"], e["dst"], e["asked"], e["measured"], "ok" if e["ok"] else "OUT"))
        entries.append(e)
    for c in cpu_groups(plan):
        share, err = remote.cpu_share(c["vnode"])
        item = dict(c, measured=None, ratio=None, ok=False, errors=[err] if err else [])
        if not err:
            item["measured"] = round(share, 3)
            item["ratio"], item["ok"] = judge_cpu(c["asked"], share)
        say("[fidelity] group %s cpu (%s): asked %s, measured %s: %s"
            % (c["group"], c["vnode"], c["asked"], item["measured"], "ok" if item["ok"] else "OUT"))
        cpus.append(item)
    report = {"platform": plan.spec.platform, "ok": all(e["ok"] for e in entries) and all(c["ok"] for c in cpus),
              "entries": entries, "cpu": cpus,
              "tolerance": {"rate": RATE_TOLERANCE, "rtt": DELAY_TOLERANCE, "cpu": CPU_TOLERANCE},
              "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    os.makedirs(out_dir, exist_ok=True)
    report["json"] = os.path.join(out_dir, "fidelity.json")
    report["markdown"] = os.path.join(out_dir, "fidelity.md")
    with open(report["json"], "w") as f:
        json.dump(report, f, indent=1, sort_keys=True)
    with open(report["markdown"], "w") as f:
        f.write(markdown(report))
    return report


def markdown(report):
    verdict = "every measure within tolerance" if report["ok"] else "**measures outside tolerance**"
    lines = ["# Fidelity of platform %s: %s" % (report["platform"], verdict), "",
             "Measured %s. Tolerances: rate +-%d%%, RTT +-%d%% of the asked delay plus the base RTT, CPU +-%d%%." % (
                 report["date"], report["tolerance"]["rate"] * 100, report["tolerance"]["rtt"] * 100,
                 report["tolerance"]["cpu"] * 100), ""]
    if report["entries"]:
        lines += ["| entry | pair measured | asked | measured | ratio | within |", "|---|---|---|---|---|---|"]
        for e in report["entries"]:
            asked = ", ".join("%s %s" % (k, _unit(k, v)) for k, v in sorted(e["asked"].items()))
            got = ", ".join("%s %s" % (k, _unit(k, v)) for k, v in sorted(e["measured"].items())) or "; ".join(e["errors"])
            ratio = ", ".join("%.2f" % v for k, v in sorted(e["ratio"].items()) if v is not None) or "-"
            lines.append("| %s -> %s | %s -> %s (%s) | %s | %s | %s | %s |" % (
                e["from"], e["to"], e["src"], e["dst"], e["address"], asked, got, ratio, "yes" if e["ok"] else "**no**"))
        lines.append("")
    if report["cpu"]:
        lines += ["| group | vnode | asked (cores) | measured | ratio | within |", "|---|---|---|---|---|---|"]
        for c in report["cpu"]:
            lines.append("| %s | %s | %s | %s | %s | %s |" % (
                c["group"], c["vnode"], c["asked"], c["measured"] if c["measured"] is not None else "; ".join(c["errors"]),
                "%.2f" % c["ratio"] if c["ratio"] is not None else "-", "yes" if c["ok"] else "**no**"))
        lines.append("")
    if not report["entries"] and not report["cpu"]:
        lines.append("Nothing to measure: the platform has no vxlab_link_matrix entry and no group with a cpu limit.")
    return "\n".join(lines) + "\n"


def _unit(key, value):
    return {"rate": "%.2f Mbit/s", "delay": "%.2f ms", "rtt": "%.2f ms"}.get(key, "%s") % value
