"""Heat's API and convergence engine in one process, as the world's Heat.

Heat 27 ships `heat-engine` and `heat-wsgi-api` as separate programs that talk
over RPC, which needs RabbitMQ; in one process they share oslo.messaging's
in-process `fake://` transport instead. Everything else is Heat's own code:
the paste pipeline with keystonemiddleware against the world's Keystone, the
convergence engine, trusts for deferred auth, and the plugins in plugin_dirs.

Usage: heat_all.py --config-file heat.conf  (HEAT_BIND=host:port)
"""

import os
import signal
import sys
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from oslo_service import backend

backend.init_backend(backend.BackendType.THREADING)

import sqlite_tuning  # noqa: E402,F401  (before Heat creates its engine)
from oslo_config import cfg  # noqa: E402
from oslo_log import log as logging  # noqa: E402

LOG = logging.getLogger("heat-all")


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    """Requests go to Heat's log (heat.api logs each one); not to stderr."""

    def log_message(self, format, *args):  # noqa: A002  (the base class's name)
        pass


def main() -> None:
    from heat.common import config, messaging
    from heat.rpc import api as rpc_api

    logging.register_options(cfg.CONF)
    cfg.CONF(sys.argv[1:], project="heat", prog="heat-all")
    logging.setup(cfg.CONF, "heat-all")
    messaging.setup()
    from heat.engine import service as engine

    # Started here, not through oslo.service's launcher: the launcher forks the
    # service into a child process, where the in-process transport cannot reach it.
    engine_service = engine.EngineService(cfg.CONF.host, rpc_api.ENGINE_TOPIC)
    engine_service.start()
    host, port = os.environ["HEAT_BIND"].rsplit(":", 1)
    server = make_server(
        host, int(port), config.load_paste_app("heat-api"), server_class=ThreadingServer, handler_class=QuietHandler
    )
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    LOG.info("heat-api listening on %s:%s", host, port)
    server.serve_forever()
    engine_service.stop()


if __name__ == "__main__":
    main()
