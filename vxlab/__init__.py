"""vxlab: CLI and Python API of the vxlab.emulation collection.

The checkout is the collection; this package finds it through ``collections/`` beside it, so the
plan code exists once (``plugins/module_utils/_plan.py``) and is shared by modules, plugins and CLI.
"""
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(REPO, "collections")
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)

__version__ = "0.1.0"
