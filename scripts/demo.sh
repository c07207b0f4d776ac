#!/usr/bin/env bash
# The main job on the embedded one-machine default: a testbed of pnodes (network namespaces with
# sshd, reached over real SSH), the platform deployed on it (VXLAN, bridges, vnodes), proved
# reachable, and torn down. KEEP=1 keeps the testbed and platform up at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_CONFIG="$PWD/ansible.cfg"
NAME=${NAME:-demo}
PNODES=${PNODES:-3}
VNODES=${VNODES:-20}
step=0
say() { step=$((step + 1)); printf '\n\033[1m[demo %d] %s\033[0m\n' "$step" "$*"; }

if vxlab testbed list --json 2>/dev/null | grep -q "\"name\": \"$NAME\""; then
  say "removing the testbed '$NAME' left by an earlier run"
  vxlab testbed down --name "$NAME"
fi
cleanup() {
  rc=$?
  if [ "${KEEP:-0}" != 1 ]; then
    say "tearing down (platform, then testbed)"
    if [ -n "${INV:-}" ]; then vxlab destroy -i "$INV" || true; fi
    vxlab testbed down --name "$NAME" || rc=1
  fi
  exit $rc
}
trap cleanup EXIT

say "testbed: $PNODES pnodes as network namespaces with sshd and an ib0 underlay"
INV=$(vxlab testbed up --name "$NAME" --pnodes "$PNODES" -e vxlab_vnodes_per_pnode="$VNODES")
echo "inventory: $INV"

say "a playbook over real SSH on every pnode"
vxlab run ping -i "$INV"

say "the platform plan"
vxlab plan -i "$INV"

ART="$(dirname "$INV")/artifacts"
say "artifacts (vnode inventory, ssh_config, ClusterShell groups, TakTuk machine file, hosts)"
vxlab render -i "$INV" -o "$ART"

say "deploy: ARP tuning, VXLAN over ib0, bridges, $((PNODES * VNODES)) vnodes with SSH"
vxlab deploy -i "$INV"

say "second deploy: nothing to change"
vxlab deploy -i "$INV"

say "check: SSH to every vnode, pings across every pnode pair through the VXLAN"
vxlab check -i "$INV"

# outside the testbed's directory, which `testbed down` removes: the results stay after the demo
EXP=${EXP:-$PWD/inventories/${NAME}-results/experiment}
SIZES=${SIZES:-5,10,20,$((PNODES * VNODES))}
rm -rf "$EXP"
say "experiment: \`true\` on n = $SIZES vnodes, ${REPEAT:-3} runs each, clush / TakTuk arity 2, 3 / Ansible, from the gateway pnode"
vxlab experiment -i "$INV" --sizes "$SIZES" --repeat "${REPEAT:-3}" --out "$EXP"

say "report: mean and 95% Student-t interval, fit T(n) = A*n + B*ln(n) + C, crossovers, plots"
vxlab report "$EXP"

say "the platform as a picture (networks, groups, pnodes), next to the report"
vxlab graph -i "$INV" -o "$EXP/platform.png"

cat <<TXT

Where things are (the testbed, its inventory and files are removed at the end unless KEEP=1):
  testbed inventory  $INV
  artifacts          $ART (ssh -F $ART/ssh_config ${NAME}-1)
  platform files     $(dirname "$INV")/.vxlab/$NAME (ssh_config, clush groups, taktuk.machines, vnodes.yml)
  results            $EXP/results.jsonl (one JSON line per measurement or discard), $EXP/experiment.json
  report             $EXP/report.md ($EXP/analysis.json: every number)
  plots              $EXP/experiment.png, $EXP/experiment.svg (kept after the demo)
  platform picture   $EXP/platform.png (vxlab graph)
TXT
