"""MariaDB (Debian's mariadb-server) for Keystone, Neutron and Heat: the world's own server on
loopback, its data under the world's directory. `root` reaches it only over its socket; each
service has a database and a user of its own, reached over TCP with PyMySQL."""

import getpass
import shutil
import subprocess
from pathlib import Path

from world.config import HOST, LOGS, PORTS, STATE, die, render, run
from world.supervise import port_open, spawn, stop, wait_for

PROCESSES = ["mariadb"]
HERE = Path(__file__).parent
DATA = STATE / "mariadb"


def defaults_file(home: Path) -> Path:
    """The server's and the client's settings for a data directory kept under `home`."""
    path = home / "my.cnf"
    path.write_text(
        render(
            HERE / "mariadb.cnf",
            datadir=home / "data",
            socket=home / "mysqld.sock",
            port=PORTS["mariadb"],
            pid_file=home / "mariadbd.pid",
            log=LOGS / "mariadb.log",
            user=getpass.getuser(),
        )
    )
    return path


def initialize(home: Path) -> None:
    """A new, empty data directory under `home` (system tables only)."""
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    run(
        [
            "mariadb-install-db",
            f"--defaults-file={defaults_file(home)}",
            "--auth-root-authentication-method=socket",
            "--skip-test-db",
        ]
    )


def serve(home: Path, name: str = "mariadb") -> None:
    """Starts the server on the data directory under `home` and waits until it answers."""
    spawn(name, ["mariadbd", f"--defaults-file={defaults_file(home)}"])
    wait_for("MariaDB", lambda: port_open(PORTS["mariadb"]) and (home / "mysqld.sock").exists(), 60, name)


def shut_down(name: str = "mariadb") -> None:
    stop(name)


def sql(home: Path, statements: str) -> str:
    """Runs SQL as root over the socket; the statements (passwords among them) go through stdin."""
    result = subprocess.run(
        ["mariadb", f"--defaults-file={home / 'my.cnf'}", "--batch", "--skip-column-names"],
        input=statements,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        die(f"MariaDB refused the world's SQL: {result.stderr.strip()[:300]}")
    return result.stdout


def create_database(home: Path, name: str, password: str) -> None:
    """A database and a user of the same name who may do anything in it, from loopback."""
    sql(
        home,
        f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4;\n"
        f"CREATE USER '{name}'@'{HOST}' IDENTIFIED BY '{password}';\n"
        f"GRANT ALL PRIVILEGES ON `{name}`.* TO '{name}'@'{HOST}';\n",
    )


def url(name: str, password: str) -> str:
    """oslo.db's connection URL for a service's database (passwords are URL-safe tokens)."""
    return f"mysql+pymysql://{name}:{password}@{HOST}:{PORTS['mariadb']}/{name}?charset=utf8mb4"


def start(world) -> None:
    """Serves the data directory the snapshot put in place."""
    if not (DATA / "data").is_dir():
        die("no MariaDB data directory: the snapshot was not restored")
    serve(DATA)


def status() -> list:
    return [("mariadb", f"{HOST}:{PORTS['mariadb']} (socket {DATA / 'mysqld.sock'})")]


def query(statement: str) -> str:
    """One statement on the world's running server, as root; its rows, tab-separated."""
    return sql(DATA, statement + ";\n")


def now() -> str:
    """The server's clock in UTC, as Heat stores its times."""
    return query("SELECT UTC_TIMESTAMP()").strip()
