"""Heat's API (the application `heat-wsgi-api` serves) for gunicorn, as clouds deploy it
under a WSGI server. Heat parses sys.argv with oslo.config when the app is made; it is
given the world's configuration files (HEAT_CONFIG_FILES, `;`-separated) instead of
gunicorn's arguments."""

import os
import sys

from oslo_service import backend

backend.init_backend(backend.BackendType.THREADING)

_argv = sys.argv
sys.argv = ["heat-api"]
for _path in os.environ["HEAT_CONFIG_FILES"].split(";"):
    sys.argv += ["--config-file", _path]
from heat.wsgi.api import application  # noqa: E402

sys.argv = _argv
__all__ = ["application"]
