"""vxlab.report on generated results: partial rows excluded, fits and crossovers in the report."""
import json
import math

from vxlab import report


def _records():
    models = {"clush": (0.02, 0.0, 1.0), "taktuk2": (0.002, 1.0, 2.0)}
    recs = []
    for m, (a, b, c) in models.items():
        for n in (10, 100, 400, 1000):
            for rep, noise in ((1, -0.01), (2, 0.0), (3, 0.01)):
                recs.append({"type": "measurement", "n": n, "rep": rep, "method": m,
                             "seconds": a * n + b * math.log(n) + c + noise, "valid": True,
                             "ok": n, "failed": 0, "failed_nodes": {}})
    recs.append({"type": "measurement", "n": 100, "rep": 1, "method": "clush", "seconds": 99.0,
                 "valid": False, "ok": 98, "failed": 2, "failed_nodes": {"x-1": "timeout"},
                 "attempt": 1})
    recs.append({"type": "discard", "node": "x-1", "pnode": "p1", "reason": "ssh probe failed",
                 "before": {"n": 100, "rep": 1}})
    return recs


def test_report_files_and_numbers(tmp_path):
    with open(str(tmp_path / "results.jsonl"), "w") as f:
        for r in _records():
            f.write(json.dumps(r) + "\n")
    out = report.report(str(tmp_path))
    assert out["valid_rows"] == 24 and out["partial_rows"] == 1 and out["discarded"] == 1
    f = out["fits"]["clush"]
    assert abs(f["A"] - 0.02) < 1e-4 and abs(f["C"] - 1.0) < 0.05
    # 0.02 n + 1 = 0.002 n + ln n + 2 near n = 386: the tree is faster after
    cross = [c for c in out["crossovers"] if c["methods"] == ["clush", "taktuk2"]]
    assert len(cross) == 1 and 370 < cross[0]["n"] < 400 and cross[0]["faster_after"] == "taktuk2"
    text = open(out["report"]).read()
    assert "%.6f" % f["A"] in text and "x-1" in text and "natural logarithm" in text
    assert "| clush | 100 | 3 |" in text  # the partial row is not averaged in
    for p in out["plots"]:
        assert (tmp_path / p.split("/")[-1]).exists()
