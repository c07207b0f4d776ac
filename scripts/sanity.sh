#!/usr/bin/env bash
# ansible-test sanity needs the collection under .../ansible_collections/vxlab/emulation: test a
# copy of the tracked and new files there (no venv, no build or test output).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/vxlab-sanity.XXXXXX)
trap 'rm -rf "$work"' EXIT
dest="$work/ansible_collections/vxlab/emulation"
mkdir -p "$dest"
git ls-files -co --exclude-standard -z | grep -zv '^collections/' | rsync -a --from0 --files-from=- ./ "$dest/"
cd "$dest"
export PATH="$OLDPWD/.venv/bin:$PATH"
ansible-test sanity --python 3.11 --venv --requirements --color no "$@"
