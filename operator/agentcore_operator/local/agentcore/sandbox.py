"""Where emulated sessions run code: a directory and one Python process per session.

This runs the caller's code ON THE HOST, as the emulator's user. It is for development
and tests on one's own machine only (the emulator binds 127.0.0.1 by default). What
keeps code in its lane is best effort, not isolation:

- the working directory is the session's own temporary directory, and the file tools
  refuse paths that leave it (code itself can still open any path the user can);
- the environment is emptied (no AWS credentials, no proxies), HOME is the session dir;
- the network is cut for Python: an audit hook (PEP 578) refuses every socket connect,
  sendto, bind and name lookup, in the interpreter and, through `sitecustomize` on
  PYTHONPATH, in Python programs that code or executeCommand starts. Programs that are
  not Python (curl, ...) are not stopped; nor is code that goes around the audit hooks
  (ctypes). Real isolation needs namespaces or a container, which need privileges;
- each call has a timeout (the process is killed, and the next call starts a fresh
  one) and its output is cut at a cap;
- the process and the directory go when the session ends: stopped, expired, reset, or
  the emulator shutting down.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DRIVER = Path(__file__).with_name("sandbox_driver.py")
DEFAULT_TIMEOUT = 30.0
DEFAULT_OUTPUT_CAP = 1024**2  # characters of stdout and of stderr, each

NETWORK_GUARD = '''\
"""The emulator's sandbox has no network: refuse sockets from Python (best effort)."""
import errno
import sys

_BLOCKED = {
    "socket.connect", "socket.sendto", "socket.sendmsg", "socket.bind",
    "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr",
}


def _no_network(event, args):
    if event in _BLOCKED:
        raise OSError(errno.ENETUNREACH, "Network is unreachable (the AgentCore emulator's sandbox has no network)")


sys.addaudithook(_no_network)
'''


class SandboxError(Exception):
    """A tool could not do what it was asked (bad path, missing file): an isError result."""


@dataclass(frozen=True)
class Execution:
    stdout: str
    stderr: str
    exit_code: int
    execution_time: float
    timed_out: bool = False


def _clean_env(home: Path, site: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(site),
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _cap(text: str, cap: int) -> str:
    if len(text) <= cap:
        return text
    return text[:cap] + f"\n[output truncated: {len(text) - cap} more characters]\n"


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process and what it started (it leads its own process group)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):  # it ended on its own meanwhile
            os.killpg(process.pid, signal.SIGKILL)


class Sandbox:
    """One session's directory and its interpreter process (started on first use)."""

    def __init__(self, directory: Path, site: Path, timeout: float, output_cap: int) -> None:
        self.directory = directory
        self.site = site
        self.timeout = timeout
        self.output_cap = output_cap
        self.lock = threading.Lock()  # one call at a time per session, as one interpreter allows
        self._process: subprocess.Popen[bytes] | None = None
        self._commands: set[subprocess.Popen[bytes]] = set()
        self._commands_lock = threading.Lock()
        self.closed = False

    # -- the interpreter -------------------------------------------------------------------

    def _interpreter(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-I", str(DRIVER), str(self.site / "sitecustomize.py")],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                cwd=self.directory,
                env=_clean_env(self.directory, self.site),
                start_new_session=True,  # its own process group: a timeout kills its children too
            )
        return self._process

    def execute_python(self, code: str, *, clear: bool = False) -> Execution:
        with self.lock:
            if self.closed:
                raise SandboxError("the session has ended")
            process = self._interpreter()
            assert process.stdin is not None and process.stdout is not None
            started = time.monotonic()
            request = json.dumps({"code": code, "clear": clear, "cap": self.output_cap}) + "\n"
            try:
                process.stdin.write(request.encode())
                process.stdin.flush()
            except BrokenPipeError:
                self._kill()
                return Execution("", "The interpreter process died; try again.\n", 1, 0.0)
            deadline = started + self.timeout
            line = self._read_line(process, deadline)
            if line is None:
                timed_out = time.monotonic() >= deadline  # else the pipe closed: it died, or was killed
                self._kill()
                if timed_out:
                    message = (
                        f"Execution timed out after {self.timeout:g} seconds; the interpreter was "
                        "restarted and its variables are lost.\n"
                    )
                else:
                    message = (
                        "The session ended while the code ran."
                        if self.closed
                        else "The interpreter process exited;"
                    ) + " Its variables are lost.\n"
                return Execution("", message, 1, time.monotonic() - started, timed_out=timed_out)
            answer = json.loads(line)
            return Execution(
                answer["stdout"], answer["stderr"], int(answer["exitCode"]), float(answer["executionTime"])
            )

    def _read_line(self, process: subprocess.Popen[bytes], deadline: float) -> bytes | None:
        assert process.stdout is not None
        fd = process.stdout.fileno()
        buffer = bytearray()
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    return None
                chunk = os.read(fd, 65536)
                if not chunk:
                    return None
                buffer += chunk
                if buffer.endswith(b"\n"):
                    return bytes(buffer)

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        _kill_group(process)
        process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()

    # -- shell commands --------------------------------------------------------------------

    def execute_command(self, command: str) -> Execution:
        if self.closed:
            raise SandboxError("the session has ended")
        started = time.monotonic()
        process = subprocess.Popen(
            ["/bin/sh", "-c", command],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self.directory,
            env=_clean_env(self.directory, self.site),
            start_new_session=True,
        )
        with self._commands_lock:
            self._commands.add(process)
        try:
            out, err = process.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            out, err = process.communicate()
            message = f"Command timed out after {self.timeout:g} seconds and was killed.\n"
            return Execution(
                _cap(out.decode(errors="replace"), self.output_cap),
                _cap(err.decode(errors="replace"), self.output_cap) + message,
                124,
                time.monotonic() - started,
                timed_out=True,
            )
        finally:
            with self._commands_lock:
                self._commands.discard(process)
        return Execution(
            _cap(out.decode(errors="replace"), self.output_cap),
            _cap(err.decode(errors="replace"), self.output_cap),
            process.returncode,
            time.monotonic() - started,
        )

    # -- files -----------------------------------------------------------------------------

    def resolve(self, path: str) -> Path:
        """A path inside the session directory; anything that leaves it is refused."""
        candidate = (self.directory / path).resolve()
        root = self.directory.resolve()
        if candidate != root and not candidate.is_relative_to(root):
            raise SandboxError(f"Path {path} is outside the session's working directory")
        return candidate

    def write(self, path: str, data: bytes) -> None:
        target = self.resolve(path)
        if target == self.directory.resolve():
            raise SandboxError(f"Path {path} is a directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def read(self, path: str) -> bytes:
        target = self.resolve(path)
        if not target.is_file():
            raise SandboxError(f"File not found: {path}")
        return target.read_bytes()

    def listing(self, path: str) -> list[tuple[str, Path]]:
        target = self.resolve(path)
        if not target.is_dir():
            raise SandboxError(f"Directory not found: {path}")
        root = self.directory.resolve()
        return [
            (str(entry.resolve().relative_to(root)), entry)
            for entry in sorted(target.iterdir(), key=lambda p: p.name)
        ]

    def remove(self, path: str) -> None:
        target = self.resolve(path)
        if target == self.directory.resolve():
            raise SandboxError("The session's working directory cannot be removed")
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        else:
            raise SandboxError(f"File not found: {path}")

    def close(self) -> None:
        """Kill first, then wait: a call running in the session must not hold up its Stop."""
        self.closed = True
        running = self._process
        if running is not None:
            _kill_group(running)  # the call waiting on it reads EOF and returns
        with self._commands_lock:
            commands = list(self._commands)
        for command in commands:
            _kill_group(command)
        with self.lock:
            self._kill()
        shutil.rmtree(self.directory, ignore_errors=True)


class Sandboxes:
    """Every live session's sandbox, under one temporary root the emulator owns."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT, output_cap: int = DEFAULT_OUTPUT_CAP) -> None:
        self.timeout = timeout
        self.output_cap = output_cap
        self._lock = threading.Lock()
        self._sandboxes: dict[tuple[str, str], Sandbox] = {}
        self._root: Path | None = None

    def _site(self) -> Path:
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="agentcore-emulator-"))
            site = self._root / "site"
            site.mkdir()
            (site / "sitecustomize.py").write_text(NETWORK_GUARD)
        return self._root / "site"

    def get(self, region: str, session_id: str) -> Sandbox:
        with self._lock:
            key = (region, session_id)
            sandbox = self._sandboxes.get(key)
            if sandbox is None:
                site = self._site()
                directory = Path(tempfile.mkdtemp(prefix=f"{session_id}-", dir=site.parent))
                sandbox = self._sandboxes[key] = Sandbox(directory, site, self.timeout, self.output_cap)
            return sandbox

    def has(self, region: str, session_id: str) -> bool:
        with self._lock:
            return (region, session_id) in self._sandboxes

    def close(self, region: str, session_id: str) -> None:
        with self._lock:
            sandbox = self._sandboxes.pop((region, session_id), None)
        if sandbox is not None:
            sandbox.close()

    def keep_only(self, live: Iterable[tuple[str, str]]) -> None:
        """Close the sandboxes of sessions that have ended (expired, stopped out of band)."""
        alive = set(live)
        with self._lock:
            ended = [key for key in self._sandboxes if key not in alive]
        for region, session_id in ended:
            self.close(region, session_id)

    def open_sessions(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._sandboxes)

    def close_all(self) -> None:
        with self._lock:
            sandboxes = list(self._sandboxes.values())
            self._sandboxes.clear()
            root, self._root = self._root, None
        for sandbox in sandboxes:
            sandbox.close()
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {"region": region, "sessionId": session_id, "directory": str(sandbox.directory)}
                for (region, session_id), sandbox in self._sandboxes.items()
            ]
