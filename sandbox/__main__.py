"""`python -m sandbox`: run the vendor platform locally until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from sandbox import gc_thresholds
from sandbox.server import Sandbox

VENDOR_STACK = "VendstackVendorPlatform"


def main(argv: list[str] | None = None, *, prog: str = "python -m sandbox") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("--cdk-out", type=Path, default=Path("cdk.out"))
    parser.add_argument("--customer-template", type=Path, default=Path("dist/customer.template.json"))
    parser.add_argument("--state-dir", type=Path, default=Path(".sandbox"))
    parser.add_argument("--port", type=int, default=0, help="API port (default: any free port)")
    args = parser.parse_args(argv)
    template = args.cdk_out / f"{VENDOR_STACK}.template.json"
    if not template.exists() or not args.customer_template.exists():
        print(
            f"sandbox: {template} or {args.customer_template} is missing; run 'make synth' first",
            file=sys.stderr,
        )
        return 2
    gc_thresholds.install()  # a long-lived process holding moto: see sandbox/gc_thresholds.py
    args.state_dir.mkdir(parents=True, exist_ok=True)
    log_path = args.state_dir / "sandbox.log"
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with log_path.open("a", buffering=1, encoding="utf-8") as log:
        sandbox = Sandbox(args.cdk_out, VENDOR_STACK, args.customer_template, args.state_dir, log, args.port)
        try:
            sandbox.start(progress=lambda m: print(f"sandbox: {m}", flush=True))
            print(f"sandbox: logs in {log_path}; Ctrl-C stops", flush=True)
            stop.wait()
        finally:
            print("sandbox: stopping", flush=True)
            sandbox.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
