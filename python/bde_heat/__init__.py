"""bde-heat: the Heat resource ``VirtualElephant::VMware::BDE`` over the Rust engine.

The resource class lives in :mod:`bde_heat.resource`; Heat loads it through the
directory :data:`PLUGIN_DIR`, which an operator adds to ``plugin_dirs`` in heat.conf.
"""

import os

from bde_heat._engine import __version__

PLUGIN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "heat_plugin")

__all__ = ["PLUGIN_DIR", "__version__"]
