"""Bare pnodes (``vxlab testbed up --bare``): pnodes with their own root filesystem, prepared by
the deploy's ``pnode_prepare`` from a local package source, as on an air-gapped cluster.

What is made once per machine (kept in :data:`CACHE_DIR`, like the LXC base image, and shared
by every bare testbed):

* the **base root**: a minimal Debian (debootstrap ``minbase`` with ``python3`` and
  ``openssh-server`` only: no iproute2 beyond what minbase has, no LXC, no venv, no pyroute2),
  built by the LXC image builder (same cache rules: keyed by its recipe, written last);
* the **local source** (:func:`local_source`): the ``.deb`` files ``pnode_prepare`` installs with
  every dependency the base root lacks (resolved by apt against the base root's own package
  status, fetched from this machine's apt sources) indexed as a flat repository, and a
  wheelhouse of the pinned Python packages. Both lists are read from the role's defaults.

Per pnode (below the testbed's private directory, ``roots/pI``): the upper and work directories
of an overlay whose lower layer is the base root, the directory it is mounted on, and ``data``,
a plain directory of this machine mounted as the pnode's ``vxlab_state_dir`` (its data disk: an
LXC vnode's overlay cannot have its upper directory on an overlay, measured: EINVAL).

:data:`SSHD_SCRIPT` assembles the root in the pnode's private mount namespace and runs sshd
chrooted into it. The kernel (namespaces, cgroups, netfilter, modules) and /dev stay shared with
this machine; the pnode sees its own /proc and a /sys of its network namespace. The local source
is mounted read-only at ``names.BARE_SOURCE_MOUNT`` (no route leaves the testbed), and the machine's LXC
image cache read-only at the same path (the image is shared, not built per pnode: debootstrap
reads a Debian mirror, which a flat repository is not, and an air-gapped site would copy one
image to its pnodes too).
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

import yaml

import vxlab
from ansible_collections.vxlab.emulation.plugins.module_utils import _lxc_image as _image
from vxlab.testbed import names, system

#: the machine's cache of base roots and local sources (shared by every bare testbed)
CACHE_DIR = "/var/cache/vxlab/bare"

#: what the base root holds beyond debootstrap's minbase: what Ansible needs to reach a pnode
BASE_PACKAGES = ("openssh-server", "python3")

#: the image builder's name for the base root (``CACHE_DIR/vxlab-pnode-<digest>/rootfs``)
BASE_NAME = "vxlab-pnode"

#: bump when the way a local source is made changes (part of its key)
SOURCE_VERSION = 1

# Runs as `sh -c SCRIPT sh CONFIG MARKER BASE PDIR STATE_DIR KEYS SSHD_DIR SOURCE IMAGES` inside
# the pnode's network namespace, in a fresh private mount namespace (every value a positional
# parameter, the script constant):
#  1. the pnode's root: an overlay (lower BASE, upper/work in PDIR) on PDIR/root, with its own
#     /proc, a /sys of the pnode's network namespace, the cgroup hierarchies (LXC) and /dev of the
#     machine, an empty /run whose /run/netns is a tmpfs named MARKER (the pnode's private set of
#     named namespaces and the tag by which `testbed down` finds every process of the pnode);
#  2. PDIR/data as the pnode's state directory (its data disk), the testbed's keys (read-only)
#     and sshd directory (its pid file) at their own paths, so the sshd configuration is the one
#     of a shared-filesystem pnode; the local source and the LXC image cache, read-only;
#  3. sshd, chrooted, replaces the shell: the process keeps the PID that started it.
SSHD_SCRIPT = (
    'set -e\n'
    'R="$4/root"\n'
    'mount -t overlay -o "lowerdir=$3,upperdir=$4/upper,workdir=$4/work" overlay "$R"\n'
    'mount -t proc proc "$R/proc"\n'
    'mount -t sysfs sysfs "$R/sys"\n'
    'mount --rbind /sys/fs/cgroup "$R/sys/fs/cgroup"\n'
    'mount --rbind /dev "$R/dev"\n'
    'mount -t tmpfs -o mode=0755,size=64m tmpfs "$R/run"\n'
    'mkdir -p "$R/run/netns" "$R/run/sshd" "$R/run/lock"\n'
    'mount -t tmpfs -o mode=0755,size=1m "$2" "$R/run/netns"\n'
    'mkdir -p "$R$5" "$R$6" "$R$7" "$R' + names.BARE_SOURCE_MOUNT + '" "$R$9"\n'
    'mount --bind "$4/data" "$R$5"\n'
    'mount --bind "$6" "$R$6"\n'
    'mount -o remount,bind,ro "$R$6"\n'
    'mount --bind "$7" "$R$7"\n'
    'mount --bind "$8" "$R' + names.BARE_SOURCE_MOUNT + '"\n'
    'mount -o remount,bind,ro "$R' + names.BARE_SOURCE_MOUNT + '"\n'
    'mount --bind "$9" "$R$9"\n'
    'mount -o remount,bind,ro "$R$9"\n'
    'exec chroot "$R" ' + names.SSHD + ' -D -e -f "$1"\n'
)


def pnode_dir(paths, index):
    """The directory of bare pnode ``index`` (upper, work, root, data)."""
    return os.path.join(paths["private"], "roots", "p%d" % index)


def sshd_argv(p, paths, bare):
    """The argv that starts bare pnode ``p``'s sshd (see :data:`SSHD_SCRIPT`); ``bare``: the
    testbed record's ``bare`` entry."""
    return ["nsenter", "--net=/run/netns/" + p["netns"], "unshare", "-m", "--propagation", "private",
            "sh", "-c", SSHD_SCRIPT, "sh", p["sshd_config"], p["marker"], bare["base"],
            pnode_dir(paths, p["index"]), paths["state_dir"], paths["keys"], paths["sshd_dir"],
            bare["source"], bare["images"]]


def restart_argv(p, paths, mnt):
    """The argv of a bare pnode's sshd started again in its existing mount namespace ``mnt``."""
    return ["nsenter", "--net=/run/netns/" + p["netns"], "--mount=" + mnt, "chroot",
            os.path.join(pnode_dir(paths, p["index"]), "root"), names.SSHD, "-D", "-e", "-f", p["sshd_config"]]


def make_pnode_dirs(paths, nodes):
    for p in nodes:
        d = pnode_dir(paths, p["index"])
        for sub in ("upper", "work", "root", "data"):
            os.makedirs(os.path.join(d, sub), mode=0o755, exist_ok=True)


# --------------------------------------------------------------------------------------------
# what pnode_prepare installs (its defaults: one list for the role and the source made here)
def prepare_defaults(repo=None):
    path = os.path.join(repo or vxlab.REPO, "roles", "pnode_prepare", "defaults", "main.yml")
    with open(path) as f:
        d = yaml.safe_load(f)
    return {"system": list(d["vxlab_pnode_system_packages"]), "pip": list(d["vxlab_pnode_pip_packages"])}


def base_root(progress=None, name="testbed"):
    """The base root (built once per machine); returns its root filesystem path."""
    d = _image.validate({"name": BASE_NAME, "cache_dir": CACHE_DIR, "packages": list(BASE_PACKAGES)})
    try:
        changed, info = _image.ensure(d, check_mode=True)
        if changed:
            started = time.monotonic()
            system.say(progress, "testbed %s: bare pnode root %s (debootstrap minbase, once per "
                       "machine, about a minute)" % (name, os.path.dirname(info["rootfs"])))
            _image.ensure(d)
            system.say(progress, "testbed %s: bare pnode root built in %.0f s" % (name, time.monotonic() - started))
    except _image.ImageError as exc:
        raise names.TestbedError("the bare pnodes' root filesystem could not be built on this "
                                 "machine: %s" % exc) from exc
    return info["rootfs"]


def source_key(base, wanted):
    text = json.dumps({"version": SOURCE_VERSION, "base": os.path.basename(os.path.dirname(base)),
                       "wanted": wanted}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _run(argv, what, env=None):
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, check=False, env=env)
    if proc.returncode != 0:
        raise names.TestbedError("%s failed (exit %d): %s" % (what, proc.returncode, proc.stdout.strip()[-1500:]))
    return proc.stdout


def packages_index(debs_dir):
    """The ``Packages`` file of a flat repository of the ``.deb`` files in ``debs_dir``: each
    package's control fields (``dpkg-deb -f``) and its Filename, Size and checksums."""
    out = []
    for name in sorted(os.listdir(debs_dir)):
        if not name.endswith(".deb"):
            continue
        path = os.path.join(debs_dir, name)
        control = _run(["dpkg-deb", "-f", path], "dpkg-deb -f %s" % name).rstrip("\n")
        md5, sha256 = hashlib.md5(), hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                md5.update(block)
                sha256.update(block)
        out.append("%s\nFilename: ./%s\nSize: %d\nMD5sum: %s\nSHA256: %s\n"
                   % (control, name, os.path.getsize(path), md5.hexdigest(), sha256.hexdigest()))
    return "\n".join(out)


def _download_debs(base, packages, debs):
    """apt fetches ``packages`` and what they need beyond the base root (its dpkg status is the
    one apt resolves against) into ``debs``. This machine's package lists are refreshed once if
    apt cannot find a package in them."""
    os.makedirs(os.path.join(debs, "partial"), exist_ok=True)
    argv = ["apt-get", "install", "--download-only", "--no-install-recommends", "-y", "-q",
            "-o", "Dir::Cache::archives=" + debs, "-o", "Dir::State::status=" + os.path.join(base, "var/lib/dpkg/status"),
            "-o", "Debug::NoLocking=1"] + list(packages)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        _run(argv, "apt-get install --download-only", env)
    except names.TestbedError:
        _run(["apt-get", "update", "-q"], "apt-get update", env)
        _run(argv, "apt-get install --download-only", env)
    shutil.rmtree(os.path.join(debs, "partial"), ignore_errors=True)
    for name in os.listdir(debs):
        if name == "lock":
            os.unlink(os.path.join(debs, name))


def local_source(base, progress=None, name="testbed", repo=None):
    """The local source for bare pnodes made from ``base`` (made once per machine and kept):
    ``CACHE_DIR/source-<key>`` with ``debs/`` (a flat apt repository) and ``wheels/``; its
    ``source.json`` (what it holds) is written last."""
    wanted = prepare_defaults(repo)
    target = os.path.join(CACHE_DIR, "source-%s" % source_key(base, wanted))
    with _image._Lock(CACHE_DIR, "source"):  # another testbed may be making it
        if not os.path.exists(os.path.join(target, "source.json")):
            _make_source(target, base, wanted, progress, name)
    return target


def _make_source(target, base, wanted, progress, name):
    started = time.monotonic()
    system.say(progress, "testbed %s: local package source %s (apt and pip downloads, once per "
               "machine): %s; %s" % (name, target, " ".join(wanted["system"]), " ".join(wanted["pip"])))

    def fill(tmp):
        debs, wheels = os.path.join(tmp, "debs"), os.path.join(tmp, "wheels")
        os.makedirs(wheels, 0o755)
        _download_debs(base, wanted["system"], debs)
        with open(os.path.join(debs, "Packages"), "w") as f:
            f.write(packages_index(debs))
        _run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "-d", wheels]
             + wanted["pip"], "pip download")
        return {"debs": sorted(n for n in os.listdir(debs) if n.endswith(".deb")),
                "wheels": sorted(os.listdir(wheels)), "wanted": wanted, "base": base}

    _image.build_into(target, fill, "source.json")
    with open(os.path.join(target, "source.json")) as f:
        count = len(json.load(f)["debs"])
    system.say(progress, "testbed %s: local package source made in %.0f s (%d .deb files)"
               % (name, time.monotonic() - started, count))
