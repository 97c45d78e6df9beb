"""The usage reporter's artifact: the `reporter` package with `vendor_client.py` and `signing.py`
beside it, importable exactly as Lambda imports `reporter.handler`, with nothing of the repository."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_artifact_is_the_reporter_package_with_the_vendor_client_and_signing(tmp_path):
    """What package.py must zip at the root; handler `reporter.handler`."""
    shutil.copytree(
        ROOT / "customer_stack" / "usage" / "reporter",
        tmp_path / "reporter",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(ROOT / "customer_stack" / "vendor_client.py", tmp_path / "vendor_client.py")
    shutil.copy(ROOT / "runtime" / "shared" / "signing.py", tmp_path / "signing.py")
    code = (
        "import sys, reporter\n"
        "assert reporter.sending.VendorClient.__module__ == 'vendor_client'\n"
        "assert sys.modules['vendor_client'].sign_request.__module__ == 'signing'\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('shared', 'customer_stack')]\n"
        "print(callable(reporter.handler))\n"
    )
    command = [sys.executable, "-E", "-s", "-c", code]
    out = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=True)  # noqa: S603
    assert out.stdout.strip() == "True"
