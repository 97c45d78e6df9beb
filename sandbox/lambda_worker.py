"""One emulated Lambda execution environment: imports a handler once, then serves invocations.

Run as `python -m sandbox.lambda_worker <asset dir> <module.function>` with the function's
environment; like a Lambda container, each function gets its own process and environment.
Protocol: one JSON line in (`{"event": ...}`) → one JSON line out (`{"result": ...}` or
`{"error": {"type", "message"}}`) on a private file descriptor, so whatever the handler
prints (Powertools logs to stdout) goes to stderr, the sandbox's log.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
import uuid


class _Context:
    """The parts of the Lambda context object that handlers and Powertools read."""

    def __init__(self, name: str, timeout_s: float) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = (
            f"arn:aws:lambda:{os.environ.get('AWS_REGION', 'us-east-1')}:123456789012:function:{name}"
        )
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"))
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "sandbox"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main() -> None:
    asset_dir, handler_path = sys.argv[1], sys.argv[2]
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    sys.path.insert(0, asset_dir)
    module_name, _, function_name = handler_path.rpartition(".")
    handler = getattr(importlib.import_module(module_name), function_name)
    name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", handler_path)
    timeout_s = float(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "30"))
    channel.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        try:
            result = handler(request["event"], _Context(name, timeout_s))
            reply = {"result": result}
        except Exception as exc:  # a Lambda reports any uncaught error as FunctionError
            traceback.print_exc()
            reply = {"error": {"type": type(exc).__name__, "message": str(exc)}}
        channel.write(json.dumps(reply, default=str) + "\n")
    # End of input: the environment shuts down. Lambda does not wait for a runtime to tidy up (it
    # ends the process with SIGKILL once the shutdown's short limit has passed), so nothing may
    # count on the interpreter's own finalization; skipping it saves a quarter of a second of CPU
    # per process, and the sandbox stops dozens of them in a run (every delete, every recycle).
    # AWS docs: "Understanding the Lambda execution environment lifecycle", Shutdown phase
    # (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html).
    channel.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
