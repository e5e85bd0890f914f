"""Starting, watching and stopping the world's processes.

Each process runs in a session of its own (so a service's workers stop with it) and is
recorded as `pids/NAME.pid`: its pid and its start time, so a recycled pid is never
taken for the service.
"""

import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from world.config import HOST, LOGS, PIDS, die


def pid_file(name: str) -> Path:
    return PIDS / f"{name}.pid"


def proc_start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def running_pid(name: str) -> int | None:
    """The pid `up` recorded for a process, if that very process still runs."""
    try:
        pid_s, started = pid_file(name).read_text().split()
    except (OSError, ValueError):
        return None
    pid = int(pid_s)
    return pid if proc_start_time(pid) == started else None


def spawn(name: str, cmd: list, env: dict | None = None, cwd: Path | None = None) -> int:
    """Starts `cmd` in a session of its own, its output to `logs/NAME.out`."""
    LOGS.mkdir(parents=True, exist_ok=True)
    PIDS.mkdir(parents=True, exist_ok=True)
    out = open(LOGS / f"{name}.out", "ab")
    proc = subprocess.Popen(
        cmd,
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        start_new_session=True,
    )
    out.close()
    started = None
    for _ in range(50):
        started = proc_start_time(proc.pid)
        if started:
            break
        time.sleep(0.01)
    pid_file(name).write_text(f"{proc.pid} {started}\n")
    return proc.pid


def _gone(pid: int, seconds: float) -> bool:
    for _ in range(int(seconds * 10)):
        if proc_start_time(pid) is None:
            return True
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.1)
    return proc_start_time(pid) is None


def _signal_session(pid: int, sig: int) -> bool:
    """Sends `sig` to the process's session; whether it was still there."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return False
    return True


def stop(name: str) -> bool:
    """SIGTERM to the process's session (SIGKILL after 10 s); whether it was running."""
    pid = running_pid(name)
    pid_file(name).unlink(missing_ok=True)
    if pid is None or not _signal_session(pid, signal.SIGTERM):
        return False
    if not _gone(pid, 10):
        _signal_session(pid, signal.SIGKILL)
    return True


def kill(name: str) -> bool:
    """SIGKILL to the process's session at once, as a host dying would; whether it ran."""
    pid = running_pid(name)
    if pid is None or not _signal_session(pid, signal.SIGKILL):
        return False
    _gone(pid, 10)
    pid_file(name).unlink(missing_ok=True)
    return True


def wait_for(what: str, check, timeout: float, name: str) -> None:
    """Waits until `check()` holds, failing early when the process `name` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running_pid(name) is None:
            die(f"{what} exited while starting; see {LOGS / (name + '.out')}")
        try:
            if check():
                return
        except (OSError, urllib.error.URLError, ValueError):
            pass
        time.sleep(0.2)
    die(f"{what} did not come up within {timeout:.0f} s; see {LOGS / (name + '.out')}")


def http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5, context=context) as resp:
            return resp.status < 400
    except urllib.error.HTTPError as err:
        return err.code < 500


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex((HOST, port)) != 0


def port_open(port: int) -> bool:
    return not port_free(port)


def gunicorn(venv: Path, app: str, port: int, chdir: Path, workers: int = 1, threads: int = 4) -> list:
    """The command serving a WSGI app (`module:name` in `chdir`) on loopback, `workers`
    processes of `threads` threads each."""
    return [
        str(venv / "bin" / "gunicorn"),
        "--chdir",
        str(chdir),
        "-b",
        f"{HOST}:{port}",
        "-w",
        str(workers),
        "--threads",
        str(threads),
        "--timeout",
        "300",
        "--no-control-socket",
        app,
    ]
