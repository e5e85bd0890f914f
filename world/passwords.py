"""The world's passwords, made once per world directory and kept private in it."""

import json
import secrets

from world.config import STATE, write_private

NAMES = ("vcenter", "bde", "member", "test_admin", "neutron_service", "heat_service", "rabbitmq")


def load() -> dict:
    path = STATE / "secrets.json"
    values = json.loads(path.read_text()) if path.exists() else {}
    if all(name in values for name in NAMES):
        return values
    values = {name: values.get(name) or secrets.token_urlsafe(18) for name in NAMES}
    write_private(path, json.dumps(values, indent=1))
    return values
