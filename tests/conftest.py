import os

import pytest


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "takes_the_world_away: stops or takes down a service every test uses; scripts/test runs these alone",
    )
    config.addinivalue_line(
        "markers",
        "kills_heat_engines: SIGKILLs the world's heat-engines; no other test may use the world's Heat meanwhile",
    )


@pytest.fixture(scope="session")
def world_env():
    """The world's environment, for the tests that need `scripts/world up` and its env loaded."""
    missing = [k for k in ("OS_CLIENT_CONFIG_FILE", "OS_CLOUD", "BDE_WORLD_DIR") if k not in os.environ]
    if missing:
        pytest.fail(f'{", ".join(missing)} not set: run eval "$(scripts/world env)" (scripts/test does)')
    return os.environ


@pytest.fixture()
def bde_api(world_env):
    """A session logged in to the world's BDE (as its admin), and its REST API's URL."""
    import requests

    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would win over verify
    session.verify = world_env["BDE_CA_FILE"]
    base = world_env["BDE_ENDPOINT"] + "/serengeti"
    login = {"j_username": world_env["BDE_USERNAME"], "j_password": world_env["BDE_PASSWORD"]}
    session.post(f"{base}/j_spring_security_check", data=login, timeout=30).raise_for_status()
    yield session, f"{base}/api"
    session.close()
