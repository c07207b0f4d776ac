"""Offline stand-in for get-pip.py, used by ansible-test (which downloads get-pip at first use).

It bootstraps pip from the interpreter's bundled wheels and then runs pip with the arguments
get-pip would have received, minus the options only get-pip understands.
"""
import ensurepip
import os
import subprocess
import sys


def main():
    os.environ.pop("PIP_CONFIG_FILE", None)
    ensurepip.bootstrap(upgrade=True)
    args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
    bundle = "/etc/ssl/certs/ca-certificates.crt"
    if os.path.exists(bundle) and "--cert" not in args:
        args = ["--cert", bundle] + args  # ansible-test runs pip with a reduced environment
    if args:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "--upgrade"] + args)


if __name__ == "__main__":
    main()
