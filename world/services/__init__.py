"""The world's services, one module each, in the order `up` starts them (`down` stops
them in reverse). Each module has `PROCESSES` (the names it runs under supervision),
`start(world)` and `status()` (each process's name and where it answers)."""

from dataclasses import dataclass, field
from pathlib import Path

from world.services import bde, heat, keystone, mariadb, neutron, nsxv, rabbitmq, vcsim

ORDER = [mariadb, rabbitmq, keystone, neutron, vcsim, nsxv, bde, heat]


@dataclass
class World:
    """What `up` gathered for the services: the Python set, the Go binaries, the simulator,
    the TLS directory and the world's secrets (passwords of its users and databases)."""

    venv: Path
    bins: Path
    sim: Path
    tls: Path
    secret: dict = field(default_factory=dict)


def processes() -> list:
    """Every supervised process, in start order."""
    return [name for service in ORDER for name in service.PROCESSES]
