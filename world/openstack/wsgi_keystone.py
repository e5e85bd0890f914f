"""Keystone's WSGI app for gunicorn.

Keystone parses sys.argv with oslo.config at import; hide gunicorn's arguments.
"""

import sys

_argv, sys.argv = sys.argv, ["keystone-api"]
from keystone.wsgi.api import application  # noqa: E402

sys.argv = _argv
__all__ = ["application"]
