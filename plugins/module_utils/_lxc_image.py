# -*- coding: utf-8 -*-
# Copyright (c) vxlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base root filesystem of LXC vnodes (private to the collection).

An image is a directory ``<cache_dir>/<name>-<digest>/rootfs`` that every vnode of a pnode mounts
read-only as the lower layer of its overlay. Its ``<digest>`` is a hash of its *recipe* (suite,
architecture, mirror, variant, packages, the steps run after debootstrap), so an image is built
once and rebuilt only when the recipe changes. ``recipe.json`` beside ``rootfs`` is written last:
an image without it is an interrupted build and is never used.

Builds take an exclusive ``flock`` on ``<cache_dir>/.<name>.lock``: the pnodes of the one-machine
testbed (and pnodes on a shared filesystem) share the cache, the first one builds, the others
wait and find the image ready.

Alternatives to building: a user-supplied root filesystem directory (used in place) or tarball
(unpacked once into the cache, keyed by the tarball's content hash).

Pure parts (mirror discovery from apt sources, the recipe and its digest, the debootstrap argv)
are plain functions unit-tested as data.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fcntl
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess

from ansible_collections.vxlab.emulation.plugins.module_utils._runner import Change, Concern

#: bump when the steps run after debootstrap change (it is part of every recipe)
RECIPE_VERSION = 1
#: sshd is the init; perl is what TakTuk's self-propagation (``taktuk -s``) runs on every vnode of
#: its tree (it loads strict, bytes, constant, Fcntl, File::Basename, POSIX, Errno, Socket from
#: perl-base and, when present, Sys::Hostname from perl), and openssh-client (a dependency of
#: openssh-server) is its connector from vnode to vnode; python3 is for Ansible modules
DEFAULT_PACKAGES = ("openssh-server", "iproute2", "iputils-ping", "perl", "python3")
DEFAULT_CACHE_DIR = "/var/cache/vxlab/images"
SOURCES_GLOBS = ("/etc/apt/sources.list", "/etc/apt/sources.list.d/*.list",
                 "/etc/apt/sources.list.d/*.sources")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_PKG_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]*$")
_SUITE_RE = re.compile(r"^[a-z][a-z0-9-]*$")
_URL_RE = re.compile(r"^(https?|file)://[A-Za-z0-9._~:/?#@!$&'()*+,;=%-]+$")
#: what a root filesystem must hold to be a vnode: sshd is the init
REQUIRED_FILES = ("usr/sbin/sshd", "bin/sh")

ARGUMENT_SPEC = dict(
    state=dict(type="str", default="present", choices=["present", "absent"]),
    name=dict(type="str", default="vxlab-base"),
    cache_dir=dict(type="str", default=DEFAULT_CACHE_DIR),
    suite=dict(type="str"),
    arch=dict(type="str"),
    mirror=dict(type="str"),
    packages=dict(type="list", elements="str", default=list(DEFAULT_PACKAGES)),
    rootfs=dict(type="str"),
    tarball=dict(type="str"),
)


class ImageError(Exception):
    """The image could not be found, built or unpacked; the message says why."""


# ----------------------------------------------------------------------------------------------
# pure


def parse_sources(files):
    """``[(uri, [suites])]`` of the ``deb`` entries of apt source files, in file order.

    ``files``: ``[(path, text)]``; one-line (``.list``) and deb822 (``.sources``) formats.
    """
    out = []
    for path, text in files:
        if path.endswith(".sources"):
            for stanza in re.split(r"\n\s*\n", text):
                fields = {}
                key = None
                for line in stanza.splitlines():
                    if not line.strip() or line.lstrip().startswith("#"):
                        continue
                    if line[0] in " \t" and key:
                        fields[key] += " " + line.strip()
                        continue
                    if ":" in line:
                        key, value = line.split(":", 1)
                        key = key.strip().lower()
                        fields[key] = value.strip()
                if fields.get("enabled", "yes").lower() == "no":
                    continue
                if "deb" not in fields.get("types", "").split():
                    continue
                for uri in fields.get("uris", "").split():
                    out.append((uri, fields.get("suites", "").split()))
        else:
            for line in text.splitlines():
                line = line.split("#", 1)[0].strip()
                words = line.split()
                if not words or words[0] != "deb":
                    continue
                words = words[1:]
                if words and words[0].startswith("["):
                    while words and not words[0].endswith("]"):
                        words = words[1:]
                    words = words[1:]
                if len(words) >= 2:
                    out.append((words[0], [words[1]]))
    return out


def choose_mirror(sources, suite):
    """The first source URI that serves ``suite`` itself (not -security/-updates)."""
    for uri, suites in sources:
        if suite in suites and _URL_RE.match(uri):
            return uri.rstrip("/")
    raise ImageError("no apt source of this machine serves the Debian suite %r (read %s); give "
                     "the mirror explicitly" % (suite, ", ".join(SOURCES_GLOBS)))


def recipe(suite, arch, mirror, packages):
    """The recipe of a built image (plain data; its digest names the image)."""
    return {
        "version": RECIPE_VERSION,
        "builder": "debootstrap",
        "variant": "minbase",
        "suite": suite,
        "arch": arch,
        "mirror": mirror,
        "packages": sorted(set(packages)),
    }


def digest(rec):
    """First 16 hex digits of the SHA-256 of the recipe's canonical JSON."""
    text = json.dumps(rec, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def debootstrap_argv(rec, target):
    return ["debootstrap", "--variant=%s" % rec["variant"], "--arch=%s" % rec["arch"],
            "--include=%s" % ",".join(rec["packages"]), rec["suite"], target, rec["mirror"]]


def image_dir(cache_dir, name, dig):
    return os.path.join(cache_dir, "%s-%s" % (name, dig))


def validate(params):
    """Normalised parameters or ValueError naming the bad one."""
    d = {"state": params.get("state") or "present", "name": params.get("name") or "vxlab-base"}
    if not _NAME_RE.match(d["name"]):
        raise ValueError("name=%r: 1-64 characters among a-z 0-9 . _ - (starting with a letter "
                         "or digit)" % (d["name"],))
    cache = params.get("cache_dir") or DEFAULT_CACHE_DIR
    if not cache.startswith("/") or "/../" in cache + "/" or not re.match(r"^/[A-Za-z0-9_./-]*$", cache):
        raise ValueError("cache_dir=%r: must be an absolute path of A-Z a-z 0-9 _ . - /" % (cache,))
    d["cache_dir"] = cache.rstrip("/") or "/"
    for key in ("rootfs", "tarball"):
        value = params.get(key)
        if value is not None and (not isinstance(value, str) or not value.startswith("/")):
            raise ValueError("%s=%r: must be an absolute path" % (key, value))
        d[key] = value.rstrip("/") if value else None
    if d["rootfs"] and d["tarball"]:
        raise ValueError("rootfs and tarball: give one of them, not both")
    suite = params.get("suite")
    if suite is not None and not _SUITE_RE.match(suite):
        raise ValueError("suite=%r: not a Debian suite name (e.g. bookworm)" % (suite,))
    d["suite"] = suite
    arch = params.get("arch")
    if arch is not None and not re.match(r"^[a-z0-9]+$", arch):
        raise ValueError("arch=%r: not a Debian architecture (e.g. amd64)" % (arch,))
    d["arch"] = arch
    mirror = params.get("mirror")
    if mirror is not None and not _URL_RE.match(mirror):
        raise ValueError("mirror=%r: must be an http(s):// or file:// URL" % (mirror,))
    d["mirror"] = mirror.rstrip("/") if mirror else None
    pkgs = params.get("packages")
    pkgs = list(DEFAULT_PACKAGES) if pkgs is None else list(pkgs)
    for p in pkgs:
        if not isinstance(p, str) or not _PKG_RE.match(p):
            raise ValueError("packages: %r is not a Debian package name" % (p,))
    if "openssh-server" not in pkgs:
        raise ValueError("packages: must include openssh-server (sshd is the vnode's init)")
    d["packages"] = pkgs
    return d


# ----------------------------------------------------------------------------------------------
# observe


def read_sources():
    files = []
    for pattern in SOURCES_GLOBS:
        for path in sorted(glob.glob(pattern)):
            try:
                with open(path) as f:
                    files.append((path, f.read()))
            except OSError:
                continue
    return files


def host_suite():
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("VERSION_CODENAME="):
                    value = line.split("=", 1)[1].strip().strip('"')
                    if value:
                        return value
    except OSError:
        pass
    raise ImageError("cannot tell this machine's Debian suite from /etc/os-release; give suite")


def host_arch():
    proc = subprocess.run(["dpkg", "--print-architecture"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        raise ImageError("dpkg --print-architecture failed: %s; give arch" % proc.stderr.strip())
    return proc.stdout.strip()


def read_recipe(path):
    try:
        with open(os.path.join(path, "recipe.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def looks_like_rootfs(path):
    missing = [f for f in REQUIRED_FILES if not os.path.exists(os.path.join(path, f))]
    return missing


def file_digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


# ----------------------------------------------------------------------------------------------
# apply


class _Lock:
    def __init__(self, cache_dir, name):
        os.makedirs(cache_dir, 0o755, exist_ok=True)
        self.path = os.path.join(cache_dir, ".%s.lock" % name)
        self.fd = None

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def _run(argv, what):
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          check=False)
    if proc.returncode != 0:
        raise ImageError("%s failed (exit %d): %s" % (what, proc.returncode, proc.stdout[-2000:]))


def _finish_rootfs(rootfs):
    """What every vnode root filesystem needs besides its packages."""
    os.makedirs(os.path.join(rootfs, "run", "sshd"), 0o755, exist_ok=True)
    os.makedirs(os.path.join(rootfs, "etc", "vxlab"), 0o755, exist_ok=True)
    os.makedirs(os.path.join(rootfs, "root", ".ssh"), 0o700, exist_ok=True)
    for deb in glob.glob(os.path.join(rootfs, "var", "cache", "apt", "archives", "*.deb")):
        os.unlink(deb)


def build_into(target_dir, fill, record_name):
    """Make the cache directory ``target_dir`` in a temporary directory beside it: ``fill(tmp)``
    makes its content and returns its record, written last as the JSON file ``record_name`` (a
    directory without it is an interrupted build and is never used); then it is renamed into
    place. Nothing is left behind on failure."""
    tmp = "%s.tmp-%d" % (target_dir, os.getpid())
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp, 0o755)
    try:
        record = fill(tmp)
        with open(os.path.join(tmp, record_name), "w") as f:
            json.dump(record, f, indent=1, sort_keys=True)
            f.write("\n")
        os.chmod(tmp, 0o755)
        if os.path.exists(target_dir):
            shutil.rmtree(target_dir)
        os.rename(tmp, target_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _build(rec, target_dir, producer):
    """Build into a temporary directory, then rename into place; recipe.json written last."""
    def fill(tmp):
        rootfs = os.path.join(tmp, "rootfs")
        os.makedirs(rootfs, 0o755)
        producer(rootfs)
        _finish_rootfs(rootfs)
        return rec

    build_into(target_dir, fill, "recipe.json")


def wanted(d):
    """What image ``d`` asks for: ``(info, producer, target)``; ``target`` None for a rootfs used
    in place (``producer`` fills a fresh root filesystem directory)."""
    if d["rootfs"]:
        missing = looks_like_rootfs(d["rootfs"])
        if missing:
            raise ImageError("rootfs=%s is not a vnode root filesystem: missing %s"
                             % (d["rootfs"], ", ".join(missing)))
        return {"rootfs": d["rootfs"], "digest": None, "recipe": None, "source": "rootfs",
                "built": False}, None, None
    if d["tarball"]:
        if not os.path.isfile(d["tarball"]):
            raise ImageError("tarball=%s: no such file" % d["tarball"])
        rec = {"version": RECIPE_VERSION, "builder": "tarball", "sha256": file_digest(d["tarball"])}

        def producer(rootfs):
            _run(["tar", "-xpf", d["tarball"], "--numeric-owner", "-C", rootfs], "tar")
            missing = looks_like_rootfs(rootfs)
            if missing:
                raise ImageError("tarball=%s does not hold a vnode root filesystem: missing %s"
                                 % (d["tarball"], ", ".join(missing)))
        source = "tarball"
    else:
        suite = d["suite"] or host_suite()
        mirror = d["mirror"] or choose_mirror(parse_sources(read_sources()), suite)
        rec = recipe(suite, d["arch"] or host_arch(), mirror, d["packages"])

        def producer(rootfs):
            _run(debootstrap_argv(rec, rootfs), "debootstrap")
        source = "debootstrap"
    dig = digest(rec)
    target = image_dir(d["cache_dir"], d["name"], dig)
    info = {"rootfs": os.path.join(target, "rootfs"), "digest": dig, "recipe": rec,
            "source": source, "built": False}
    return info, producer, target


def build(d, info, producer, target):
    """Build the image into ``target`` (under the cache lock); sets ``info["built"]``."""
    with _Lock(d["cache_dir"], d["name"]):
        # another pnode may have built it while this one waited for the lock
        if read_recipe(target) != info["recipe"]:
            _build(info["recipe"], target, producer)
            info["built"] = True


def ensure(d, check_mode=False):
    """``(changed, info)``; info: ``{rootfs, digest, recipe, source, built}``."""
    info, producer, target = wanted(d)
    if target is None or read_recipe(target) == info["recipe"]:
        return False, info
    if check_mode:
        info["built"] = True
        return True, info
    build(d, info, producer, target)
    return info["built"], info


def images_of(cache_dir, name):
    return sorted(glob.glob(os.path.join(cache_dir, "%s-*" % name)))


class LxcImage(Concern):
    """The ``vxlab.emulation.lxc_image`` module's concern."""

    NAME = "lxc_image"
    ARGUMENT_SPEC = ARGUMENT_SPEC
    MUTUALLY_EXCLUSIVE = (("rootfs", "tarball"),)
    NEEDS = ()
    ERRORS = (ImageError, OSError)

    def validate(self, params):
        return validate(params)

    def observe(self, ctx, desired):
        if desired["state"] == "absent":
            return {"found": [p for p in images_of(desired["cache_dir"], desired["name"]) if os.path.isdir(p)]}
        info, producer, target = wanted(desired)
        return {"info": info, "producer": producer, "target": target,
                "cached": target is None or read_recipe(target) == info["recipe"]}

    def diff(self, ctx, desired, observed):
        if desired["state"] == "absent":
            return Change(changed=bool(observed["found"]),
                          diff={"before": {"images": observed["found"]}, "after": {"images": []}})
        info = observed["info"]
        if not observed["cached"] and ctx.check_mode:
            info["built"] = True
        return Change(changed=not observed["cached"],
                      diff={"before": {"image": info["digest"] if observed["cached"] else None},
                            "after": {"image": info["digest"]}})

    def apply(self, ctx, desired, observed, change):
        if desired["state"] == "absent":
            with _Lock(desired["cache_dir"], desired["name"]):
                for p in observed["found"]:
                    shutil.rmtree(p)
        else:
            build(desired, observed["info"], observed["producer"], observed["target"])
            change.settle(observed["info"]["built"])  # another pnode may have built it meanwhile

    def result(self, ctx, desired, observed, change):
        if desired["state"] == "absent":
            return {"removed": observed["found"]}
        return dict(observed["info"])
