"""The long-lived Python interpreter of one emulated session (run as a script, never imported).

AgentCore keeps one Python process per session, so variables defined by one executeCode
call are there for the next. This driver is that process: it reads one JSON request per
line from the protocol pipe, runs the code in one persistent namespace with stdout and
stderr captured (up to a cap), and writes one JSON answer per line.

The protocol travels on duplicates of the original stdin/stdout; file descriptors 0, 1
and 2 are then pointed at /dev/null, so code that writes to them directly (os.write(1),
a child process) cannot corrupt the protocol. Started with `python -I`: it imports
nothing from the emulator, and the network guard it is given is applied before any user
code runs.
"""

import io
import json
import os
import sys
import time
import traceback


class CappedText(io.TextIOBase):
    """A text sink that keeps the first `cap` characters and counts the rest."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.parts: list[str] = []
        self.kept = 0
        self.dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        room = self.cap - self.kept
        if room > 0:
            self.parts.append(text[:room])
            self.kept += min(room, len(text))
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def value(self) -> str:
        text = "".join(self.parts)
        if self.dropped:
            text += f"\n[output truncated: {self.dropped} more characters]\n"
        return text


def main() -> None:
    guard = sys.argv[1] if len(sys.argv) > 1 else ""
    if guard:
        with open(guard) as source:
            exec(compile(source.read(), guard, "exec"), {"__name__": "network_guard"})
    protocol_in = os.fdopen(os.dup(0), "r", encoding="utf-8")
    protocol_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    namespace: dict[str, object] = {"__name__": "__main__"}
    for line in protocol_in:
        request = json.loads(line)
        if request.get("clear"):
            namespace = {"__name__": "__main__"}
        stdout, stderr = CappedText(request["cap"]), CappedText(request["cap"])
        sys.stdout, sys.stderr = stdout, stderr
        exit_code = 0
        started = time.perf_counter()
        try:
            exec(compile(request["code"], "<string>", "exec"), namespace)
        except SystemExit as stop:
            code = stop.code
            exit_code = code if isinstance(code, int) else (0 if code is None else 1)
            if code is not None and not isinstance(code, int):
                stderr.write(f"{code}\n")
        except BaseException as error:
            exit_code = 1
            frames = error.__traceback__.tb_next if error.__traceback__ else None  # not this driver's frame
            stderr.write("".join(traceback.format_exception(type(error), error, frames)))
        finally:
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        answer = {
            "stdout": stdout.value(),
            "stderr": stderr.value(),
            "exitCode": exit_code,
            "executionTime": time.perf_counter() - started,
        }
        protocol_out.write(json.dumps(answer) + "\n")
        protocol_out.flush()


if __name__ == "__main__":
    main()
