#!/usr/bin/env bash
# `make test`: every test. Order: the quick whole-collection checks first (build, ansible-test
# sanity, ansible-doc, ansible-lint), then molecule, then pytest (unit + root integration) whose
# summary line ends the run. Exit non-zero if any part failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_CONFIG="$PWD/ansible.cfg"
failed=()
part() {
  local name=$1; shift
  printf '\n=== %s ===\n' "$name"
  local t0=$SECONDS
  if "$@"; then echo "=== $name: ok ($((SECONDS - t0)) s) ==="; else echo "=== $name: FAILED ($((SECONDS - t0)) s) ==="; failed+=("$name"); fi
}
docs() {
  local p rc=0
  for p in plugins/modules/*.py; do
    p=$(basename "$p" .py)
    ansible-doc -t module "vxlab.emulation.$p" >/dev/null || { echo "ansible-doc: module $p"; rc=1; }
  done
  for p in plugins/inventory/*.py; do
    p=$(basename "$p" .py)
    ansible-doc -t inventory "vxlab.emulation.$p" >/dev/null || { echo "ansible-doc: inventory $p"; rc=1; }
  done
  return $rc
}
part "collection build" bash scripts/build.sh
part "ansible-doc" docs
part "ansible-test sanity" bash scripts/sanity.sh
part "ansible-lint" ansible-lint  # .ansible-lint: profile production, offline
if [ -d molecule/default ]; then
  part "molecule test" molecule test
fi
if [ -d molecule/bare ]; then
  part "molecule test -s bare" molecule test -s bare
fi
part "pytest" python -m pytest tests -q -p no:cacheprovider
if [ ${#failed[@]} -gt 0 ]; then
  echo "make test: FAILED: ${failed[*]}"
  exit 1
fi
echo "make test: all parts passed"
