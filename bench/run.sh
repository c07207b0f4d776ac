#!/usr/bin/env bash
# vxlab benchmarks (`make bench`): the address plan, then one pnode with 246 vnodes (playbook vs
# module vs raw iproute2, needs root), then bench/RESULTS.md and the plots, all from this run.
# Takes about 25 minutes on a 2-core machine (most of it the 10,000-vnode platform; RESULTS.md states the time). Raw results: bench/out/*.json (git-ignored).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
PY="$PWD/.venv/bin/python"
export PATH="$PWD/.venv/bin:$PATH"
export MPLBACKEND=Agg
mkdir -p bench/out
rm -f bench/out/plan.json bench/out/deploy.json
rc=0
started=$(date +%s)
say() { echo "[bench $(date +%H:%M:%S)] $*" >&2; }

say "machine: $(nproc) CPUs, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
say "1/3 address plan: $PY bench/bench_plan.py"
"$PY" bench/bench_plan.py --out bench/out/plan.json || { say "bench_plan failed"; rc=1; }

if [ "$(id -u)" -eq 0 ]; then
    say "2/3 one pnode, 246 vnodes: $PY bench/bench_deploy.py --vnodes 246"
    "$PY" bench/bench_deploy.py --vnodes 246 --out bench/out/deploy.json \
        || { say "bench_deploy failed"; rc=1; }
else
    say "2/3 skipped: bench_deploy.py needs root"
fi

if [ "$(id -u)" -eq 0 ] && command -v lxc-start >/dev/null; then
    say "LXC: 246 LXC vnodes, module vs raw lxc-start: $PY bench/bench_lxc.py --vnodes 246"
    rm -f bench/out/lxc.json bench/out/lxc.md
    "$PY" bench/bench_lxc.py --vnodes 246 --out bench/out/lxc.json >/dev/null \
        || { say "bench_lxc failed"; rc=1; }
fi

if [ "$(id -u)" -eq 0 ]; then
    say "ARP modes: static tables vs suppression: $PY bench/bench_neigh.py --vnodes 100 --platform 4000"
    rm -f bench/out/neigh.json bench/out/neigh.md
    "$PY" bench/bench_neigh.py --vnodes 100 --platform 4000 --out bench/out/neigh.json >/dev/null \
        || { say "bench_neigh failed"; rc=1; }
fi

if [ "$(id -u)" -eq 0 ]; then
    say "scale: 250..10,000 netns vnodes on 10 pnodes vs raw iproute2: $PY bench/bench_scale.py"
    rm -f bench/out/scale.json bench/out/scale.md
    "$PY" bench/bench_scale.py --counts 250,1000,2500,5000,10000 --pnodes 10 \
        --out bench/out/scale.json || { say "bench_scale failed"; rc=1; }
fi

if [ "$(id -u)" = 0 ]; then
    say "topology: 1,000 vnodes in 10 data networks vs one: $PY bench/bench_topology.py"
    "$PY" bench/bench_topology.py --pnodes 4 --vnodes 1000 --networks 10 --out bench/out/topology.json \
        --results "" || { say "bench_topology failed"; rc=1; }
    say "matrix: 1,000 vnodes with a 10 x 10 group matrix vs none: $PY bench/bench_matrix.py"
    "$PY" bench/bench_matrix.py --pnodes 4 --vnodes 1000 --groups 10 --out bench/out/matrix.json \
        --results "" || { say "bench_matrix failed"; rc=1; }
fi

say "3/3 report: bench/RESULTS.md, bench/plan_scaling.png, bench/deploy_phases.png, bench/scale.png"
"$PY" bench/report.py --plan bench/out/plan.json --deploy bench/out/deploy.json \
    --suite-seconds "$(( $(date +%s) - started ))" --out bench/RESULTS.md || rc=1
say "finished in $(( $(date +%s) - started )) s (exit $rc)"
exit $rc
