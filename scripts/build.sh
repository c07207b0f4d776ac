#!/usr/bin/env bash
# Build the collection tarball and check it holds the collection and nothing else
# (no venv, no build/test output, nothing of inventories/: examples, testbeds, results; no
# symlink loop).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
out=$(mktemp -d /tmp/vxlab-build.XXXXXX)
trap 'rm -rf "$out"' EXIT
ansible-galaxy collection build --force --output-path "$out" . >/dev/null
tarball=$(ls "$out"/vxlab-emulation-*.tar.gz)
list=$(tar -tzf "$tarball")
bad=$(grep -E '(^|/)(\.venv|\.git|tests/output|collections|__pycache__|\.pytest_cache|bench/out)(/|$)|^inventories(/|$)|\.pyc$' <<<"$list" || true)
if [ -n "$bad" ]; then
  echo "build: unexpected files in $(basename "$tarball"):"; echo "$bad" | head -20; exit 1
fi
for need in MANIFEST.json FILES.json plugins/modules/vnodes.py plugins/module_utils/_plan/__init__.py \
            plugins/inventory/vnodes.py playbooks/deploy.yml roles/dataplane/tasks/main.yml; do
  grep -qx "$need" <<<"$list" || { echo "build: $need missing from the tarball"; exit 1; }
done
echo "build: $(basename "$tarball") ok ($(wc -l <<<"$list") entries, $(du -h "$tarball" | cut -f1))"
