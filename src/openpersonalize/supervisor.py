"""`openpersonalize serve` as a family of processes: the server, more server processes sharing its
port (`--processes N`), and job workers (`--workers N`).

Children get their settings as JSON on stdin, never in their environment (which other processes
of the user can read, and which their own children inherit); they are restarted when they die and
end when the `serve` process that started them is gone, even after kill -9. Server processes
share the port through SO_REUSEPORT: the kernel spreads connections over them, and they share
the data through the metadata database and the interactions store.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable

from openpersonalize.settings import ENV_PREFIX, Settings

log = logging.getLogger(__name__)


def serve_forever(settings: Settings, *, child: bool = False) -> None:
    """Serve until stopped; the first process also starts and watches the others."""
    import uvicorn

    from openpersonalize.server import build_app

    web = build_app(settings)  # migrates the metadata DB before any other process starts
    sock = listening_socket(settings.host, settings.port, shared=settings.processes > 1 or child)
    server = uvicorn.Server(uvicorn.Config(web, log_level=settings.log_level, access_log=False))
    family = None
    if child:
        threading.Thread(
            target=_stop_when_orphaned,
            args=(settings.parent_pid, threading.Event(), lambda: setattr(server, "should_exit", True)),
            daemon=True,
        ).start()
    else:
        log.info(
            "serving the Personalize APIs on http://%s:%s (metadata %s, objects %s, %d process(es), %d worker(s))",
            settings.host,
            settings.port,
            redact(settings.resolved_metadata_url),
            settings.resolved_object_url,
            settings.processes,
            settings.workers,
        )
        family = Supervisor(settings)
        family.start()
    try:
        server.run(sockets=[sock])
    finally:
        if family is not None:
            family.stop()


def listening_socket(host: str, port: int, *, shared: bool) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(False)
    return sock


class Supervisor:
    """Keeps `workers` job workers and `processes - 1` more server processes running."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.roles = ["worker"] * settings.workers + ["server"] * (settings.processes - 1)
        self.procs: list[subprocess.Popen[bytes]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)

    def _spawn(self, role: str) -> subprocess.Popen[bytes]:
        settings = dataclasses.replace(
            self.settings,
            parent_pid=os.getpid(),
            data_dir=self.settings.data_dir.resolve(),
            file_roots=":".join(str(root) for root in self.settings.resolved_file_roots),
            workers=0,
            processes=1,
            # Workers serve no API: they get no API credentials.
            credentials=self.settings.credentials if role == "server" else "",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
        command = "serve" if role == "server" else "worker"
        proc = subprocess.Popen(
            [sys.executable, "-m", "openpersonalize", command, "--settings-stdin"],
            env=env,
            stdin=subprocess.PIPE,
        )
        assert proc.stdin is not None
        proc.stdin.write(settings.to_json().encode())
        proc.stdin.close()
        return proc

    def start(self) -> None:
        self.procs = [self._spawn(role) for role in self.roles]
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(1.0):
            for i, proc in enumerate(self.procs):
                # Exit status 0 is a stop asked for (SIGTERM to the whole group, say): not restarted.
                if proc.poll() not in (None, 0) and not self._stop.is_set():
                    log.warning("%s process exited (%s); restarting", self.roles[i], proc.returncode)
                    self.procs[i] = self._spawn(self.roles[i])

    def stop(self) -> None:
        self._stop.set()
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def stop_when_orphaned(parent_pid: int, stop: threading.Event) -> None:
    """A child of `serve` ends with it, however `serve` ended."""
    _stop_when_orphaned(parent_pid, stop, stop.set)


def _stop_when_orphaned(parent_pid: int, idle: threading.Event, end: Callable[[], None]) -> None:
    while not idle.wait(1.0):
        if os.getppid() != parent_pid:
            log.warning("the serve process %s is gone; stopping", parent_pid)
            end()
            return


def redact(url: str) -> str:
    """Hide a password in a database URL before logging it."""
    import re

    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)
