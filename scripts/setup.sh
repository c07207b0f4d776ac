#!/usr/bin/env bash
# Idempotent set-up of a fresh Debian 12 machine (run as root): the Debian packages vxlab uses,
# the pinned .venv, the vxlab CLI, and the offline stand-in ansible-test needs for get-pip.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

DEB_PACKAGES=(iproute2 openssh-server openssh-client lxc debootstrap taktuk tcpdump iperf3 shellcheck graphviz
              iputils-ping procps psmisc python3-venv rsync)
missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "[setup] Debian packages: all present"
fi
# sshd host keys (openssh-server creates them at install; a stripped image may lack them)
ls /etc/ssh/ssh_host_*_key >/dev/null 2>&1 || ssh-keygen -A

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv"
  "$PY" -m venv .venv
fi
want=$(sha256sum requirements.txt pyproject.toml | sha256sum | cut -c1-16)
have=$(cat .venv/.vxlab-setup 2>/dev/null || true)
if [ "$want" != "$have" ]; then
  echo "[setup] installing pinned Python packages into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements.txt
  .venv/bin/python -m pip install -q --no-deps -e . > .venv/.vxlab-editable.log 2>&1 || { cat .venv/.vxlab-editable.log; exit 1; }
  echo "$want" > .venv/.vxlab-setup
else
  echo "[setup] .venv: up to date"
fi

# ansible-test downloads get-pip.py at first use; this machine reaches only package registries.
# A stand-in bootstraps pip with ensurepip instead (named after the version ansible-test asks for).
getpip_versions=$(.venv/bin/python - <<'PY'
import pathlib, re, ansible_test
src = pathlib.Path(ansible_test.__file__).parent / "_internal/python_requirements.py"
found = set(re.findall(r"pip='([0-9.]+)'", src.read_text())) or {"24.2"}
print(" ".join(sorted(v.replace(".", "_") for v in found)))
PY
)
cache="$HOME/.ansible/test/cache"
mkdir -p "$cache"
for v in $getpip_versions; do
  if ! cmp -s scripts/get_pip_stand_in.py "$cache/get_pip_$v.py"; then
    cp scripts/get_pip_stand_in.py "$cache/get_pip_$v.py"
    echo "[setup] ansible-test get-pip stand-in: $cache/get_pip_$v.py"
  fi
done
echo "[setup] done: $REPO/.venv (vxlab $(.venv/bin/vxlab --version 2>/dev/null || echo 'CLI pending'))"
