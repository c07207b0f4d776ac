"""The LXC base image as data: apt sources and the mirror, the recipe digest, validation."""
import pytest
from ansible_collections.vxlab.emulation.plugins.module_utils import _lxc_image as im


def test_parse_sources_both_formats_and_choose_mirror():
    files = [("/etc/apt/sources.list", "# c\ndeb [arch=amd64 signed-by=/k] http://mirror.example/debian bookworm main\n"
              "deb-src http://src.example/debian bookworm main\n"),
             ("/etc/apt/sources.list.d/debian.sources",
              "Types: deb\nURIs: http://deb.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\n"
              "Types: deb\nURIs: http://sec.example/debian-security\nSuites: bookworm-security\n\n"
              "Enabled: no\nTypes: deb\nURIs: http://off.example/debian\nSuites: trixie\n")]
    src = im.parse_sources(files)
    assert src == [("http://mirror.example/debian", ["bookworm"]),
                   ("http://deb.example/debian", ["bookworm", "bookworm-updates"]),
                   ("http://sec.example/debian-security", ["bookworm-security"])]
    assert im.choose_mirror(src, "bookworm") == "http://mirror.example/debian"
    assert im.choose_mirror(src[1:], "bookworm") == "http://deb.example/debian"
    with pytest.raises(im.ImageError, match="'trixie'"):
        im.choose_mirror(src, "trixie")


def test_recipe_digest_stable_and_sensitive():
    a = im.recipe("bookworm", "amd64", "http://m/debian", ["python3", "openssh-server"])
    b = im.recipe("bookworm", "amd64", "http://m/debian", ["openssh-server", "python3", "python3"])
    assert im.digest(a) == im.digest(b) and len(im.digest(a)) == 16
    assert im.digest(a) != im.digest(im.recipe("bookworm", "amd64", "http://m/debian", ["openssh-server"]))
    assert im.digest(a) != im.digest(im.recipe("trixie", "amd64", "http://m/debian", ["python3", "openssh-server"]))
    assert im.debootstrap_argv(a, "/t") == ["debootstrap", "--variant=minbase", "--arch=amd64",
                                            "--include=openssh-server,python3", "bookworm", "/t",
                                            "http://m/debian"]


def test_image_validate():
    d = im.validate({"name": "vxlab-base", "packages": None})
    assert d["packages"] == list(im.DEFAULT_PACKAGES) and d["cache_dir"] == im.DEFAULT_CACHE_DIR
    for params, match in (({"name": "Bad Name"}, "name="), ({"packages": ["iproute2"]}, "openssh-server"),
                          ({"packages": ["openssh-server", "a;b"]}, "package name"),
                          ({"mirror": "ftp://x"}, "mirror="), ({"rootfs": "/a", "tarball": "/b"}, "not both"),
                          ({"cache_dir": "rel"}, "cache_dir=")):
        with pytest.raises(ValueError, match=match):
            im.validate(params)
