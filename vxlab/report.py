"""``vxlab report DIR``: the analysis of an experiment's ``results.jsonl``.

Per method and size: mean and 95% Student-t interval of the valid rows; per method the
least-squares fit of ``T(n) = A*n + B*ln(n) + C`` (natural logarithm) with its residuals; the
crossover sizes between methods; plots in the style of the paper's Figures 3 and 4 (points with
error bars, fitted curves; PNG and SVG); ``report.md`` with the tables; ``analysis.json`` with
every number.
"""
import json
import os

from vxlab import experiment as _exp
from vxlab import stats

LABELS = {"clush": "ClusterShell (sliding window)", "taktuk2": "TakTuk, arity 2",
          "taktuk3": "TakTuk, arity 3", "ansible": "Ansible ad-hoc"}
MARKERS = {"clush": "o", "taktuk2": "s", "taktuk3": "^", "ansible": "D"}
#: the paper's fits (seconds; Grid'5000, up to 39,852 vnodes), shown for comparison
PAPER_FITS = {"clush": (0.01649, -7.55, 52.0), "taktuk2": (0.00146, 3.55, -4.0),
              "taktuk3": (0.00099, 2.27, 4.0)}
CROSS_LIMIT = 1e6


def analyse(records, confidence=0.95):
    """The numbers of the report from the records of ``results.jsonl`` (pure)."""
    rows = [r for r in records if r.get("type") == "measurement"]
    valid = [r for r in rows if r.get("valid")]
    methods = [m for m in _exp.METHODS if any(r["method"] == m for r in valid)]
    table = {}
    for m in methods:
        by_n = {}
        for r in valid:
            if r["method"] == m:
                by_n.setdefault(int(r["n"]), []).append(float(r["seconds"]))
        table[m] = [dict(stats.t_interval(v, confidence), size=n, values=v)
                    for n, v in sorted(by_n.items())]
    fits = {}
    for m in methods:
        ns = [int(r["n"]) for r in valid if r["method"] == m]
        ts = [float(r["seconds"]) for r in valid if r["method"] == m]
        try:
            f = stats.fit(ns, ts)
        except ValueError as exc:
            fits[m] = {"error": str(exc)}
            continue
        f["residual_points"] = [{"n": n, "seconds": t, "residual": e}
                                for n, t, e in zip(ns, ts, f["residuals"])]
        fits[m] = f
    measured = sorted({int(r["n"]) for r in valid}) or [1]
    crosses = []
    fitted = [m for m in methods if "A" in fits[m]]
    for i, m1 in enumerate(fitted):
        for m2 in fitted[i + 1:]:
            p1 = (fits[m1]["A"], fits[m1]["B"], fits[m1]["C"])
            p2 = (fits[m2]["A"], fits[m2]["B"], fits[m2]["C"])
            # below the smallest measured size the model says nothing (ln n dominates there)
            for c in stats.crossovers(p1, p2, float(measured[0]), CROSS_LIMIT):
                if c["sign_after"] == 0:
                    continue
                faster = m2 if c["sign_after"] > 0 else m1
                crosses.append({"methods": [m1, m2], "n": c["n"], "faster_after": faster,
                                "within_measured": measured[0] <= c["n"] <= measured[-1]})
    partial = [r for r in rows if not r.get("valid")]
    discards = [r for r in records if r.get("type") == "discard"]
    skipped = [r for r in records if r.get("type") == "skipped"]
    paper = []
    for a, b in (("clush", "taktuk2"), ("clush", "taktuk3")):
        for c in stats.crossovers(PAPER_FITS[a], PAPER_FITS[b], 1000.0, CROSS_LIMIT):
            paper.append({"methods": [a, b], "n": c["n"]})
    return {"confidence": confidence, "log_base": stats.LOG_BASE, "methods": methods,
            "table": table, "fits": fits, "crossovers": crosses, "measured_sizes": measured,
            "rows": len(rows), "valid_rows": len(valid), "partial": partial,
            "discarded": discards, "skipped": skipped, "paper_crossovers": paper}


def _fmt(v, digits=3):
    return "-" if v is None else "%.*f" % (digits, v)


def markdown(result, config, plots):
    s = result
    lines = ["# Experiment report: `true` on n vnodes", ""]
    if config:
        lines += ["Platform `%s`: %s vnodes on %d pnodes; launcher `%s`; sizes %s; %s repetitions; "
                  "methods %s; seed %s; ClusterShell/Ansible fanout %s; Ansible module `%s`."
                  % (config.get("platform"), config.get("vnodes"), len(config.get("pnodes", [])),
                     config.get("launcher"), ", ".join(map(str, config.get("sizes", []))),
                     config.get("repeat"), ", ".join(config.get("methods", [])), config.get("seed"),
                     config.get("fanout"), config.get("ansible_module")), ""]
    lines += ["Rows: %d measured, %d valid (all n nodes answered), %d partial (kept in "
              "`results.jsonl`, excluded below). Times are wall-clock seconds on the launcher."
              % (s["rows"], s["valid_rows"], len(s["partial"])), "",
              "## Mean and %d%% Student-t interval" % round(100 * s["confidence"]), "",
              "| method | n | runs | mean (s) | ± half-width (s) | low | high |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for m in s["methods"]:
        for row in s["table"][m]:
            lines.append("| %s | %d | %d | %s | %s | %s | %s |" % (
                m, row["size"], row["n"], _fmt(row["mean"]), _fmt(row["half_width"]),
                _fmt(row["low"]), _fmt(row["high"])))
    lines += ["", "## Fit: T(n) = A·n + B·ln(n) + C", "",
              "Least squares over every valid run (repetitions included). **ln is the natural "
              "logarithm** (base e); the paper writes log(n) without a base: in base 10, B would "
              "be B·ln(10) and the curves and crossovers would be the same.", "",
              "| method | A (s/node) | B (s) | C (s) | RMSE (s) | R² | points | sizes |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for m in s["methods"]:
        f = s["fits"][m]
        if "A" not in f:
            lines.append("| %s | %s | | | | | | |" % (m, f["error"]))
            continue
        lines.append("| %s | %.6f | %.4f | %.4f | %.4f | %.4f | %d | %d%s |" % (
            m, f["A"], f["B"], f["C"], f["rmse"], f["r2"], f["points"], f["sizes"],
            " (exact through 3 sizes)" if f["exact"] else ""))
    lines += ["", "Fitted models:", ""]
    for m in s["methods"]:
        f = s["fits"][m]
        if "A" in f:
            lines.append("- %s: T(n) = %.6f·n %s %.4f·ln(n) %s %.4f" % (
                m, f["A"], "-" if f["B"] < 0 else "+", abs(f["B"]), "-" if f["C"] < 0 else "+",
                abs(f["C"])))
    lines += ["", "### Residuals (measured − fitted, s)", "",
              "| method | n | measured | residual |", "|---|---:|---:|---:|"]
    for m in s["methods"]:
        f = s["fits"][m]
        for p in f.get("residual_points", []):
            lines.append("| %s | %d | %.4f | %+.4f |" % (m, p["n"], p["seconds"], p["residual"]))
    lines += ["", "## Crossovers", ""]
    if s["crossovers"]:
        lines += ["| methods | n | faster after | |", "|---|---:|---|---|"]
        for c in s["crossovers"]:
            lines.append("| %s / %s | %.0f | %s | %s |" % (
                c["methods"][0], c["methods"][1], c["n"], c["faster_after"],
                "within the measured sizes" if c["within_measured"]
                else "extrapolated from the fits"))
    else:
        lines.append("The fitted curves do not cross between the smallest measured size and "
                     "n = %d." % CROSS_LIMIT)
    lines += ["", "For comparison, the paper's fits (Grid'5000, up to 39,852 vnodes) cross at: "
              + (", ".join("%s/%s n ≈ %.0f" % (c["methods"][0], c["methods"][1], c["n"])
                           for c in s["paper_crossovers"]) or "-") + ".", ""]
    lines += ["## Discarded nodes", ""]
    if s["discarded"]:
        lines += ["| node | pnode | before (n, rep) | reason |", "|---|---|---|---|"]
        for d in s["discarded"]:
            b = d.get("before") or {}
            lines.append("| %s | %s | %s, %s | %s |" % (d["node"], d.get("pnode"), b.get("n"),
                                                        b.get("rep"), d["reason"].replace("|", "/")))
    else:
        lines.append("None: every probed vnode answered.")
    if s["partial"]:
        lines += ["", "## Partial rows (not averaged)", "",
                  "| method | n | rep | attempt | ok | failed nodes |", "|---|---:|---:|---:|---:|---|"]
        for r in s["partial"]:
            fails = ", ".join("%s (%s)" % (k, str(v).replace("|", "/")[:60])
                              for k, v in list(r.get("failed_nodes", {}).items())[:5])
            lines.append("| %s | %d | %d | %s | %d/%d | %s |" % (
                r["method"], r["n"], r["rep"], r.get("attempt"), r["ok"], r["n"], fails))
    if s["skipped"]:
        lines += ["", "Skipped (not enough healthy vnodes): " + ", ".join(
            "%s n=%d rep %d" % (r["method"], r["n"], r["rep"]) for r in s["skipped"])]
    lines += ["", "## Plots", ""]
    for p in plots:
        if p.endswith(".png"):
            lines.append("![%s](%s)" % (os.path.basename(p), os.path.basename(p)))
    lines += ["", "Files: " + ", ".join("`%s`" % os.path.basename(p) for p in plots), ""]
    return "\n".join(lines)


def plot(result, out_base, title, xmax=None):
    """Points with error bars and fitted curves; writes ``out_base``.png and .svg."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(7, 4.5))
    sizes = result["measured_sizes"]
    hi = xmax or sizes[-1]
    xs = np.linspace(max(1.0, min(sizes[0], hi) * 0.8), hi * 1.05, 400)
    for m in result["methods"]:
        rows = result["table"][m]
        err = [r["half_width"] or 0.0 for r in rows]
        line = ax.errorbar([r["size"] for r in rows], [r["mean"] for r in rows], yerr=err,
                           fmt=MARKERS.get(m, "o"), capsize=3, label=LABELS.get(m, m))
        f = result["fits"][m]
        if "A" in f:
            ax.plot(xs, stats.model((f["A"], f["B"], f["C"]), xs), "-",
                    color=line[0].get_color(), alpha=0.7, linewidth=1)
    for c in result["crossovers"]:
        if c["n"] <= hi * 1.05 and set(c["methods"]) <= {"clush", "taktuk2", "taktuk3"}:
            ax.axvline(c["n"], color="grey", linestyle=":", linewidth=0.8)
    ax.set_xlabel("number of nodes (n)")
    ax.set_ylabel("time to run `true` (s)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    paths = []
    for ext in ("png", "svg"):
        path = "%s.%s" % (out_base, ext)
        fig.savefig(path, dpi=120)
        paths.append(path)
    plt.close(fig)
    return paths


def report(out_dir, confidence=0.95):
    """Analyse ``out_dir/results.jsonl``; write report.md, analysis.json and plots; return a dict."""
    out_dir = os.path.abspath(out_dir)
    path = os.path.join(out_dir, _exp.RESULTS)
    records = _exp.read_records(path)
    if not records:
        raise FileNotFoundError("no results in %s" % path)
    config = {}
    cfg_path = os.path.join(out_dir, _exp.CONFIG)
    if os.path.exists(cfg_path):
        with open(cfg_path) as f:
            config = json.load(f)
    result = analyse(records, confidence)
    plots = []
    if result["methods"]:
        plots += plot(result, os.path.join(out_dir, "experiment"),
                      "`true` on n vnodes (%s): mean, %d%% t-interval, fit"
                      % (config.get("platform", "?"), round(100 * confidence)))
        beyond = [c["n"] for c in result["crossovers"] if not c["within_measured"]]
        if beyond:
            xmax = min(max(beyond) * 1.3, CROSS_LIMIT)
            plots += plot(result, os.path.join(out_dir, "experiment_extrapolated"),
                          "fits extrapolated to the crossovers (n up to %d)" % xmax, xmax=xmax)
    text = markdown(result, config, plots)
    md = os.path.join(out_dir, "report.md")
    with open(md, "w") as f:
        f.write(text)
    with open(os.path.join(out_dir, "analysis.json"), "w") as f:
        json.dump(result, f, indent=1, sort_keys=True, default=str)
        f.write("\n")
    return {"ok": bool(result["methods"]), "report": md, "plots": plots,
            "analysis": os.path.join(out_dir, "analysis.json"), "fits": result["fits"],
            "crossovers": result["crossovers"], "valid_rows": result["valid_rows"],
            "partial_rows": len(result["partial"]), "discarded": len(result["discarded"])}
