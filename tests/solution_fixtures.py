"""A vendor's own service for the tests: not the sample, one function with one pip dependency.

The dependency is a tiny pure-Python wheel written here and served from a local folder
(`--no-index --find-links`), so the build runs pip exactly as for a real release, offline."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

from customer_stack.solution.config import SolutionFunction, parse_solution

DEPENDENCY = "vs_tinydep"
APP = '''"""A vendor's function: shouts the body back, and records one request of usage."""

import vs_tinydep
from recorder import record


def handler(event, context):
    record({"requests": 1})
    return {"statusCode": 200, "body": vs_tinydep.shout(event.get("body") or "")}
'''


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def write_wheel(folder: Path) -> Path:
    """vs_tinydep 1.0.0 as a py3-none-any wheel (installable for any Lambda platform)."""
    folder.mkdir(parents=True, exist_ok=True)
    info = f"{DEPENDENCY}-1.0.0.dist-info"
    files = {
        f"{DEPENDENCY}/__init__.py": b"def shout(text):\n    return text.upper()\n",
        f"{info}/METADATA": b"Metadata-Version: 2.1\nName: vs-tinydep\nVersion: 1.0.0\n",
        f"{info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: vendstack-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = "\n".join([*(_record_line(n, d) for n, d in files.items()), f"{info}/RECORD,,"]) + "\n"
    path = folder / f"{DEPENDENCY}-1.0.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for name, data in {**files, f"{info}/RECORD": record.encode()}.items():
            wheel.writestr(name, data)
    return path


def vendor_service(root: Path) -> tuple[SolutionFunction, ...]:
    """An empty folder turned into a vendor's service, configured as cdk.json would configure it."""
    source = root / "my-service" / "worker"
    source.mkdir(parents=True)
    (source / "app.py").write_text(APP)
    wheels = root / "wheels"
    write_wheel(wheels)
    requirements = root / "my-service" / "requirements.txt"
    requirements.write_text(f"--no-index\n--find-links {wheels}\nvs-tinydep==1.0.0\n")
    context = {
        "solution": {
            "functions": [
                {
                    "name": "worker",
                    "source": "my-service/worker",
                    "handler": "app.handler",
                    "requirements": "my-service/requirements.txt",
                    "api": True,
                    "memory_mb": 256,
                    "timeout_s": 30,
                    "environment": {"GREETING": "hello"},
                }
            ]
        }
    }
    return parse_solution(context, root)
