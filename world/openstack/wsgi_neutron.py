"""Neutron's WSGI app for gunicorn (Neutron 29 ships no neutron-server script).

Neutron parses sys.argv with oslo.config at import; hide gunicorn's arguments.
"""

import sys

_argv, sys.argv = sys.argv, ["neutron-api"]
from neutron.wsgi.api import application  # noqa: E402

sys.argv = _argv
__all__ = ["application"]
