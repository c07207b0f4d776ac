"""Helpers of the vxlab CLI/API unit tests (imported by the tests and their conftest)."""
import os
import textwrap

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
VENV_BIN = os.path.join(REPO, ".venv", "bin")


def write(path, text):
    """Write dedented ``text`` to ``path`` (directories created); return the path."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(textwrap.dedent(text).lstrip())
    return str(path)
