"""Render the published customer template: the synthesized one with the vendor's real values
as parameter defaults (docs/protocol.md §5).

    python -m customer_stack.render --api-url URL --public-key B64 --signing-profile-version-arn ARN \
        --release-version X.Y.Z [--template dist/customer.template.json] \
        [--out dist/customer.rendered.template.json]

`ReleaseVersion` names the release the published template delivers: its custom resource passes
it to the activation, so updating a stack to a newer published template (a changed property)
delivers the newer release, and a stack only ever runs the release its template names.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import copy
import json
import re
import sys
from pathlib import Path

DEFAULT_TEMPLATE = Path("dist/customer.template.json")
DEFAULT_OUT = Path("dist/customer.rendered.template.json")


class RenderError(ValueError):
    pass


def render_template(
    template: dict,
    *,
    api_url: str,
    public_key_b64: str,
    signing_profile_version_arn: str,
    release_version: str,
) -> dict:
    """A copy of `template` whose vendor parameters default to the given values, each checked
    against the parameter's own AllowedPattern so a bad value fails here, not in a customer's
    CloudFormation console."""
    try:
        der = base64.b64decode(public_key_b64, validate=True)
    except (binascii.Error, ValueError):
        raise RenderError(
            "VendorPublicKey must be base64 (of the DER public key KMS GetPublicKey returns)"
        ) from None
    if not der.startswith(b"\x30"):
        raise RenderError("VendorPublicKey does not decode to a DER SubjectPublicKeyInfo")
    values = {
        "VendorApiUrl": api_url.rstrip("/"),
        "VendorPublicKey": public_key_b64,
        "SigningProfileVersionArn": signing_profile_version_arn,
        "ReleaseVersion": release_version,
    }
    rendered = copy.deepcopy(template)
    parameters = rendered.get("Parameters", {})
    for name, value in values.items():
        if name not in parameters:
            raise RenderError(f"the template has no parameter {name}: is it the customer template?")
        pattern = parameters[name].get("AllowedPattern")
        if not isinstance(value, str) or (pattern and not re.match(pattern, value)):
            raise RenderError(f"{name} {value[:80]!r} does not match the template's pattern {pattern}")
        parameters[name]["Default"] = value
    return rendered


def write_rendered(template_path: Path, out_path: Path, **values: str) -> Path:
    template = json.loads(template_path.read_text(encoding="utf-8"))
    rendered = render_template(template, **values)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(rendered, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    return out_path


def main(argv: list[str] | None = None, *, prog: str = "python -m customer_stack.render") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--api-url", required=True)
    parser.add_argument(
        "--public-key", required=True, help="base64 DER SubjectPublicKeyInfo (KMS GetPublicKey)"
    )
    parser.add_argument("--signing-profile-version-arn", required=True)
    parser.add_argument("--release-version", required=True, help="X.Y.Z: the release the template delivers")
    parser.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    try:
        out = write_rendered(
            args.template,
            args.out,
            api_url=args.api_url,
            public_key_b64=args.public_key,
            signing_profile_version_arn=args.signing_profile_version_arn,
            release_version=args.release_version,
        )
    except (RenderError, OSError, json.JSONDecodeError) as exc:
        print(f"render: {exc}", file=sys.stderr)
        return 2
    print(f"rendered customer template: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
