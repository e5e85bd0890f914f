"""RabbitMQ (Debian's rabbitmq-server) for Heat's RPC through oslo.messaging: its own node
name, Erlang port mapper, cookie and data directory under the world's, so it never meets a
system RabbitMQ. The port mapper runs under supervision too: Erlang would otherwise start one
that outlives `down`."""

import shutil
import urllib.parse
from pathlib import Path

from world.config import HOST, LOGS, PORTS, STATE, render, write_private
from world.supervise import port_open, spawn, wait_for

PROCESSES = ["epmd", "rabbitmq"]
HERE = Path(__file__).parent
HOME = STATE / "rabbitmq"
NODE = "bde-world@localhost"


def transport_url(password: str) -> str:
    """oslo.messaging's URL for the world's broker."""
    return f"rabbit://heat:{urllib.parse.quote(password, safe='')}@{HOST}:{PORTS['rabbitmq']}/"


def start(world) -> None:
    # A fresh node at every `up`, as every other service's state is fresh.
    shutil.rmtree(HOME / "mnesia", ignore_errors=True)
    HOME.mkdir(parents=True, exist_ok=True)
    config = render(HERE / "rabbitmq.conf", port=PORTS["rabbitmq"], password=world.secret["rabbitmq"])
    write_private(HOME / "rabbitmq.conf", config)
    (HOME / "enabled_plugins").write_text("[].\n")
    epmd_port = str(PORTS["epmd"])
    spawn("epmd", ["epmd", "-port", epmd_port, "-address", HOST])
    wait_for("epmd", lambda: port_open(PORTS["epmd"]), 30, "epmd")
    env = {
        "HOME": str(HOME),  # where its Erlang cookie is made
        "RABBITMQ_NODENAME": NODE,
        "RABBITMQ_CONFIG_FILE": str(HOME / "rabbitmq.conf"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(HOME / "enabled_plugins"),
        "RABBITMQ_MNESIA_BASE": str(HOME / "mnesia"),
        "RABBITMQ_LOG_BASE": str(LOGS / "rabbitmq"),
        "RABBITMQ_PID_FILE": str(HOME / "rabbitmq.pid"),
        "RABBITMQ_DIST_PORT": str(PORTS["rabbitmq-dist"]),
        "ERL_EPMD_PORT": epmd_port,
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
    }
    spawn("rabbitmq", ["/usr/lib/rabbitmq/bin/rabbitmq-server"], env=env)
    wait_for("RabbitMQ", lambda: port_open(PORTS["rabbitmq"]), 120, "rabbitmq")


def status() -> list:
    return [
        ("epmd", f"{HOST}:{PORTS['epmd']} (Erlang's port mapper, the world's own)"),
        ("rabbitmq", f"amqp://{HOST}:{PORTS['rabbitmq']} (node {NODE})"),
    ]
