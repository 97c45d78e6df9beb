"""`vendstack`: one command line for what a vendor does with the kit.

    vendstack publish       package, sign, release and publish the solution (customer_stack.publish)
    vendstack render        render the customer template with the vendor's values (customer_stack.render)
    vendstack usage-report  usage per customer and dimension for a period (runtime usage.report)
    vendstack sandbox       run the vendor platform locally until Ctrl-C (sandbox)
    vendstack demo          boot the sandbox and walk through the product as a customer (sandbox.demo)
    vendstack openapi       regenerate docs/openapi.json from the synthesized template
                            (customer_stack.openapi)
    vendstack admin         the vendor's operators: customers, approve, suspend, resume, usage,
                            dispute, over the admin API with SigV4 (customer_stack.admin)

Each subcommand is the module named beside it, called with the rest of the command line, so
`vendstack publish --help` shows publish's own options and `python -m customer_stack.publish`
stays the same program. The subcommands that need the synthesized templates (`sandbox`, `demo`,
`openapi`) say so and exit 2 when `make synth` has not run. Bad input exits 2, as argparse does.
Relative paths (the defaults `cdk.out/`, `dist/`, `.sandbox/` too) are read from the working
directory, as with `make`: run it at the checkout's root.

Installed as a console script by `make setup` (`pip install -e .`, see pyproject.toml); from a
checkout without it, `.venv/bin/python -m customer_stack.cli` is the same command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Relative to the working directory, as the wrapped commands' own defaults are: run `vendstack`
# at the checkout's root, as `make` is.
VENDOR_TEMPLATE = Path("cdk.out/VendstackVendorPlatform.template.json")
CUSTOMER_TEMPLATE = Path("dist/customer.template.json")


def _publish(args: list[str], prog: str) -> int:
    from customer_stack import publish

    return publish.main(args, prog=prog)


def _render(args: list[str], prog: str) -> int:
    from customer_stack import render

    return render.main(args, prog=prog)


def _usage_report(args: list[str], prog: str) -> int:
    runtime = str(ROOT / "runtime")
    if runtime not in sys.path:  # the report reads the items the usage feature writes, with its code
        sys.path.insert(0, runtime)
    from usage import report  # type: ignore[attr-defined]  # runtime/usage/report.py, on sys.path above

    report.parse_args(args, prog)  # bad input exits 2 here, before anything is read
    print(f"{prog}: reading the period's hourly usage…", file=sys.stderr, flush=True)
    return report.main(args, prog=prog)


def _needs_synth(prog: str, *paths: Path) -> int | None:
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        print(
            f"{prog}: {', '.join(missing)} missing: run `make synth` first, and {prog} in the checkout",
            file=sys.stderr,
        )
        return 2
    return None


def _sandbox(args: list[str], prog: str) -> int:
    from sandbox import __main__ as sandbox_main

    return sandbox_main.main(args, prog=prog)  # it refuses (exit 2) when the templates are missing


def _demo(args: list[str], prog: str) -> int:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Boot the sandbox from the synthesized templates (`make synth` first), walk through "
        "the product as a customer (sign up, key, signed call, subscribe, activate, usage, metering, "
        "revoke) and stop. Takes no options.",
    )
    parser.parse_args(args)
    refused = _needs_synth(prog, VENDOR_TEMPLATE, CUSTOMER_TEMPLATE)
    if refused is not None:
        return refused
    from sandbox import demo

    return demo.main()


def _openapi(args: list[str], prog: str) -> int:
    from customer_stack import openapi

    return openapi.main(args, prog=prog)


def _admin(args: list[str], prog: str) -> int:
    from customer_stack import admin

    return admin.main(args, prog=prog)


COMMANDS: dict[str, tuple[Callable[[list[str], str], int], str]] = {
    "publish": (_publish, "package, sign, release and publish the solution; print the launch URL"),
    "render": (_render, "render the customer template with the vendor's values as defaults"),
    "usage-report": (_usage_report, "usage per customer and dimension for a period, with metering status"),
    "sandbox": (_sandbox, "run the vendor platform locally (moto) until Ctrl-C"),
    "demo": (_demo, "boot the sandbox and walk through the product as a customer, then stop"),
    "openapi": (_openapi, "regenerate docs/openapi.json from the synthesized vendor template"),
    "admin": (_admin, "operators: customers, approve, suspend, resume, usage, dispute (admin API, SigV4)"),
}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in COMMANDS:
        # The command's own parser reads the rest, so its --help and its errors are its own.
        run, _ = COMMANDS[args[0]]
        try:
            return run(args[1:], f"vendstack {args[0]}")
        except KeyboardInterrupt:
            print(f"vendstack {args[0]}: interrupted", file=sys.stderr)
            return 130
    parser = argparse.ArgumentParser(
        prog="vendstack",
        description="The vendstack kit's command line; `vendstack <command> --help` shows its options.",
    )
    commands = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    for name, (_, text) in COMMANDS.items():
        commands.add_parser(name, help=text, add_help=False)
    parser.parse_args(args)  # --help, or a usage error (exit 2): a known command was handled above
    return 2


if __name__ == "__main__":
    sys.exit(main())
