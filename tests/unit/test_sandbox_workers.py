"""The sandbox's emulated Lambda environment (`sandbox/workers.py`, `sandbox/lambda_worker.py`):
what a handler sees of Lambda's defined variables, and how the environment ends."""

from __future__ import annotations

from pathlib import Path

from sandbox.workers import FunctionSpec, FunctionWorker

HANDLER = """
import os


def handler(event, context):
    return {
        "task_root": os.environ.get("LAMBDA_TASK_ROOT"),
        "function": os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
        "echo": event,
    }
"""


def _worker(tmp_path: Path) -> FunctionWorker:
    (tmp_path / "probe.py").write_text(HANDLER)
    spec = FunctionSpec("Probe", "probe-fn", "probe.handler", tmp_path, {}, 3, 128)
    log = (tmp_path / "worker.log").open("a")
    return FunctionWorker(spec, {"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"}, log)


def test_the_handler_sees_lambda_task_root_as_its_code_folder(tmp_path):
    """Lambda sets LAMBDA_TASK_ROOT to the function's code; libraries (the X-Ray SDK, Powertools)
    read it to know they run in Lambda."""
    worker = _worker(tmp_path)
    try:
        answer = worker.invoke({"n": 1})
    finally:
        worker.stop()
    assert answer["task_root"] == str(tmp_path)
    assert answer["function"] == "probe-fn" and answer["echo"] == {"n": 1}


def test_an_ended_environment_exits_cleanly_and_the_next_call_starts_a_new_one(tmp_path):
    worker = _worker(tmp_path)
    worker.invoke({})
    first = worker._process
    assert first is not None
    worker.stop()
    assert first.returncode == 0  # it ended by itself once its input ended, not killed
    worker.invoke({})
    assert worker._process is not None and worker._process.pid != first.pid
    worker.stop()


def test_what_the_handler_prints_goes_to_the_log(tmp_path):
    """Never into the reply channel, which would corrupt the answer."""
    (tmp_path / "noisy.py").write_text("def handler(event, context):\n    print('noise')\n    return 7\n")
    log = tmp_path / "log.txt"
    with log.open("w") as stream:
        spec = FunctionSpec("Noisy", "noisy", "noisy.handler", tmp_path, {}, 3, 128)
        worker = FunctionWorker(spec, {"PATH": "/usr/bin:/bin"}, stream)
        try:
            assert worker.invoke({}) == 7
        finally:
            worker.stop()
    assert "noise" in log.read_text()
