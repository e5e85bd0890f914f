"""Neutron's WSGI app for gunicorn (Neutron 29 ships no neutron-server script).

Neutron parses sys.argv with oslo.config at import; hide gunicorn's arguments.

Neutron makes its policy enforcer on the first request and publishes it before its rules are
registered (`neutron.policy.init`), so two first requests at once in one worker can check a rule
that is not there yet and deny it: a member's create_network came back 403. Each worker loads
it here, before gunicorn gives it a request.
"""

import sys

_argv, sys.argv = sys.argv, ["neutron-api"]
from neutron.wsgi.api import application  # noqa: E402

sys.argv = _argv

from neutron import policy  # noqa: E402

policy.init()
__all__ = ["application"]
