"""InvokeCodeInterpreter: the tools of a session, answered as an AWS event stream.

The request is rest-json (the tool `name`, its `arguments`, the session in the
`x-amzn-code-interpreter-session-id` header); the answer is the model's
`CodeInterpreterStreamOutput`, one `result` event framed by `eventstream`. Results have
the shape AgentCore gives them: `content` blocks (text for output, `resource` for a file
read, `resource_link` for a listed file), `structuredContent` with stdout, stderr,
exitCode and executionTime for code and commands, and `isError` when the tool failed.

A tool that fails on its own terms (code raising, a file that is not there) is a result
with `isError`, as at AWS; a request that cannot be carried out at all (no session, a
session not READY, arguments a tool cannot take) is an HTTP error the model lists.
"""

from __future__ import annotations

import base64
import mimetypes
from collections.abc import Callable, Mapping
from typing import Any

from botocore.model import Shape

from agentcore_operator.local.agentcore import eventstream
from agentcore_operator.local.agentcore.backend import Backend, Scope
from agentcore_operator.local.agentcore.sandbox import Execution, Sandbox, SandboxError, Sandboxes
from agentcore_operator.local.agentcore.wire import AwsError, serialize, validation_error

OPERATION = "InvokeCodeInterpreter"
SESSION_HEADER = "x-amzn-code-interpreter-session-id"
# In the model's ToolName enum but not emulated (asynchronous tasks).
NOT_EMULATED = ("startCommandExecution", "getTask", "stopTask")


def _missing(member: str) -> AwsError:
    return validation_error(
        [
            (
                f"arguments.{member}",
                f"Value null at 'arguments.{member}' failed to satisfy constraint: Member must not be null",
            )
        ]
    )


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _execution_result(execution: Execution) -> dict[str, Any]:
    output = execution.stdout if execution.exit_code == 0 else execution.stdout + execution.stderr
    return {
        "content": [_text(output)],
        "structuredContent": {
            "stdout": execution.stdout,
            "stderr": execution.stderr,
            "exitCode": execution.exit_code,
            "executionTime": round(execution.execution_time, 6),
        },
        "isError": execution.exit_code != 0,
    }


def _mime_type(path: str) -> str:
    return mimetypes.guess_type(path)[0] or "application/octet-stream"


class CodeInterpreterTools:
    """Runs one tool call in its session's sandbox and renders the event stream."""

    def __init__(self, backend: Backend, sandboxes: Sandboxes, result_shape: Shape) -> None:
        self.backend = backend
        self.sandboxes = sandboxes
        self.result_shape = result_shape
        self._tools: dict[str, Callable[[Sandbox, Mapping[str, Any]], dict[str, Any]]] = {
            "executeCode": self._execute_code,
            "executeCommand": self._execute_command,
            "writeFiles": self._write_files,
            "readFiles": self._read_files,
            "listFiles": self._list_files,
            "removeFiles": self._remove_files,
        }

    def invoke(self, scope: Scope, params: Mapping[str, Any]) -> tuple[dict[str, str], bytes]:
        """Headers and body of the answer; blocking (the server runs it in a thread)."""
        session_id = params.get("sessionId")
        if not session_id:
            raise validation_error(
                [
                    (
                        "sessionId",
                        "Value null at 'sessionId' failed to satisfy constraint: Member must not be null",
                    )
                ]
            )
        self.backend.invocable_session(scope, params["codeInterpreterIdentifier"], session_id)
        name = params["name"]
        tool = self._tools.get(name)
        if tool is None:
            raise AwsError(
                "ValidationException",
                f"Tool {name} is not supported by the AgentCore emulator (supported: {', '.join(self._tools)})",
                400,
                reason="FieldValidationFailed",
                fieldList=[{"name": "name", "message": f"Tool {name} is not emulated"}],
            )
        arguments = params.get("arguments") or {}
        sandbox = self.sandboxes.get(scope.region, session_id)
        try:
            result = tool(sandbox, arguments)
        except SandboxError as error:
            result = {"content": [_text(str(error))], "isError": True}
        except OSError as error:  # the file system said no (a directory where a file was meant...)
            result = {
                "content": [_text(f"{error.strerror or error}: {error.filename or ''}".rstrip(": "))],
                "isError": True,
            }
        body = eventstream.event("result", serialize(self.result_shape, result))
        headers = {"Content-Type": eventstream.CONTENT_TYPE, SESSION_HEADER: session_id}
        return headers, body

    # -- the tools ---------------------------------------------------------------------------

    def _execute_code(self, sandbox: Sandbox, arguments: Mapping[str, Any]) -> dict[str, Any]:
        code = arguments.get("code")
        if code is None:
            raise _missing("code")
        language = arguments.get("language", "python")
        if language != "python":
            raise AwsError(
                "ValidationException",
                f"Language {language} is not available in the AgentCore emulator (python only)",
                400,
                reason="FieldValidationFailed",
                fieldList=[{"name": "arguments.language", "message": "only python is emulated"}],
            )
        return _execution_result(sandbox.execute_python(code, clear=bool(arguments.get("clearContext"))))

    def _execute_command(self, sandbox: Sandbox, arguments: Mapping[str, Any]) -> dict[str, Any]:
        command = arguments.get("command")
        if command is None:
            raise _missing("command")
        return _execution_result(sandbox.execute_command(command))

    def _write_files(self, sandbox: Sandbox, arguments: Mapping[str, Any]) -> dict[str, Any]:
        files = arguments.get("content")
        if files is None:
            raise _missing("content")
        decoded: list[tuple[str, bytes]] = []
        for item in files:
            if item.get("blob") is not None:
                try:
                    data = base64.b64decode(item["blob"], validate=True)
                except (ValueError, TypeError) as exc:
                    raise AwsError(
                        "ValidationException",
                        f"blob of {item['path']} is not base64",
                        400,
                        reason="CannotParse",
                    ) from exc
            else:
                data = str(item.get("text") or "").encode()
            sandbox.resolve(item["path"])  # refuse the whole call before writing anything
            decoded.append((item["path"], data))
        for path, data in decoded:
            sandbox.write(path, data)
        return {"content": [_text(f"Successfully wrote all {len(decoded)} files")], "isError": False}

    def _read_files(self, sandbox: Sandbox, arguments: Mapping[str, Any]) -> dict[str, Any]:
        paths = arguments.get("paths")
        if paths is None:
            raise _missing("paths")
        blocks = []
        for path in paths:
            data = sandbox.read(path)
            resource: dict[str, Any] = {"uri": f"file://{path}", "mimeType": _mime_type(path)}
            try:
                resource.update(type="text", text=data.decode())
            except UnicodeDecodeError:
                resource.update(type="blob", blob=data)
            blocks.append({"type": "resource", "resource": resource})
        return {"content": blocks, "isError": False}

    def _list_files(self, sandbox: Sandbox, arguments: Mapping[str, Any]) -> dict[str, Any]:
        directory = arguments.get("directoryPath") or arguments.get("path") or "."
        blocks = []
        for relative, entry in sandbox.listing(directory):
            is_dir = entry.is_dir()
            block: dict[str, Any] = {
                "type": "resource_link",
                "uri": f"file://{relative}",
                "name": entry.name,
                "description": "Directory" if is_dir else "File",
            }
            if not is_dir:
                block.update(mimeType=_mime_type(entry.name), size=entry.stat().st_size)
            blocks.append(block)
        return {"content": blocks, "isError": False}

    def _remove_files(self, sandbox: Sandbox, arguments: Mapping[str, Any]) -> dict[str, Any]:
        paths = arguments.get("paths")
        if paths is None:
            raise _missing("paths")
        for path in paths:
            sandbox.resolve(path)
        for path in paths:
            sandbox.remove(path)
        return {"content": [_text(f"Successfully removed {len(paths)} files")], "isError": False}
