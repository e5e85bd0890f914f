import os

import pytest


@pytest.fixture(scope="session")
def world_env():
    """The world's environment, for the tests that need `scripts/world up` and its env loaded."""
    missing = [k for k in ("OS_CLIENT_CONFIG_FILE", "OS_CLOUD", "BDE_WORLD_DIR") if k not in os.environ]
    if missing:
        pytest.fail(f'{", ".join(missing)} not set: run eval "$(scripts/world env)" (scripts/test does)')
    return os.environ
