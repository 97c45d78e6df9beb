"""`vendstack admin`: the vendor's operators on the admin API (docs/protocol.md §5.1).

    vendstack admin [--api-url URL] [--outputs-json .sandbox/endpoints.json] [--profile P]
                    [--region us-east-1] [--json] <command>
      customers [--status S] [--limit N] [--all]  customers with status, owner, account, keys, last usage
      approve TEAM_ID                             approve a subscription waiting for approval
      suspend TEAM_ID --reason "…"                suspend: signed calls and writes answer 403
      resume TEAM_ID                              lift a suspension
      usage --from YYYY-MM-DD --to YYYY-MM-DD     usage per customer and dimension, and what was metered
      dispute TEAM_ID --from … --to … [--csv]     one customer's per-day usage, metering records, calls

Requests are signed with AWS Signature Version 4 (service `execute-api`) with the operator's
own AWS credentials, found by botocore's credential chain (environment, `--profile`, SSO, the
instance role…), as the API's `AWS_IAM` authorization requires (AWS docs: "Control access to a
REST API with IAM permissions", API Gateway Developer Guide). Tables for people; `--json` prints
the API's answers as they are, for scripts. Errors name what went wrong and exit 1 (the API
refused) or 2 (bad input, no credentials); nothing secret is printed.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import BotoCoreError

SERVICE = "execute-api"
TIMEOUT_S = 30


class AdminError(Exception):
    """The API refused, or could not be reached: the message says which and why."""


class AdminClient:
    """One signed HTTPS client of the admin API."""

    def __init__(self, api_url: str, credentials: Any, region: str) -> None:
        self.base = api_url.rstrip("/")
        self.credentials = credentials
        self.region = region

    def call(
        self, method: str, path: str, query: dict[str, str] | None = None, body: dict | None = None
    ) -> Any:
        url = self.base + path
        if query:
            url += "?" + urllib.parse.urlencode(sorted(query.items()), quote_via=urllib.parse.quote)
        data = json.dumps(body).encode("utf-8") if body is not None else b""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        request = AWSRequest(method=method, url=url, data=data, headers=headers)
        SigV4Auth(self.credentials, SERVICE, self.region).add_auth(request)
        prepared = urllib.request.Request(  # noqa: S310 - the operator's own API URL (https, or the sandbox)
            url, data=data or None, method=method, headers=dict(request.headers.items())
        )
        try:
            with urllib.request.urlopen(prepared, timeout=TIMEOUT_S) as response:  # noqa: S310
                text = response.read().decode("utf-8")
        except urllib.error.HTTPError as error:
            raise AdminError(_refusal(error.code, error.read().decode("utf-8", "replace"))) from None
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            raise AdminError(f"cannot reach {self.base}: {getattr(error, 'reason', error)}") from None
        return json.loads(text) if text else None


def _refusal(status: int, text: str) -> str:
    try:
        document = json.loads(text)
    except ValueError:
        document = {}
    if isinstance(document, dict) and isinstance(document.get("error"), dict):
        error = document["error"]
        return f"{status} {error.get('code')}: {error.get('message')}"
    message = document.get("message") or document.get("Message") if isinstance(document, dict) else None
    if status == 403:
        return (
            f"403 refused by API Gateway ({message or 'forbidden'}): are your AWS credentials those of an "
            "operator named in cdk.json admin.principals, and is --region the API's region?"
        )
    return f"{status}: {message or text[:200]}"


def _day(value: str) -> str:
    try:
        return date.fromisoformat(value).isoformat() if len(value) == 10 else _bad_day(value)
    except ValueError:
        return _bad_day(value)


def _bad_day(value: str) -> str:
    raise argparse.ArgumentTypeError(f"{value!r} is not a date as YYYY-MM-DD")


def parser(prog: str) -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0].strip("`"))
    top.add_argument("--api-url", "--endpoint", dest="api_url", help="the platform API's base URL (ApiUrl)")
    top.add_argument(
        "--outputs-json", type=Path, help="read api_url from this file (the sandbox's endpoints.json)"
    )
    top.add_argument("--profile", help="AWS profile of the operator (botocore's credential chain)")
    top.add_argument(
        "--region", default=None, help="region the API is in (default: the profile's, else us-east-1)"
    )
    top.add_argument("--json", action="store_true", help="print the API's JSON answers, for scripts")
    commands = top.add_subparsers(dest="command", required=True, metavar="<command>")
    listing = commands.add_parser("customers", help="list customers")
    listing.add_argument(
        "--status",
        choices=(
            "active",
            "pending",
            "pending-approval",
            "unsubscribe-pending",
            "grace",
            "inactive",
            "suspended",
        ),
    )
    listing.add_argument("--limit", type=int, default=50, help="customers per page (1-100)")
    listing.add_argument("--all", action="store_true", help="follow next_token to the end")
    for name, text in (("approve", "approve a subscription"), ("resume", "lift a suspension")):
        commands.add_parser(name, help=text).add_argument("team_id")
    suspend = commands.add_parser("suspend", help="suspend a customer")
    suspend.add_argument("team_id")
    suspend.add_argument("--reason", required=True, help="why (kept in the audit trail, shown to operators)")
    usage = commands.add_parser("usage", help="usage per customer and dimension, and what was metered")
    dispute = commands.add_parser("dispute", help="one customer's dispute report")
    dispute.add_argument("team_id")
    dispute.add_argument("--csv", action="store_true", help="CSV instead of a table")
    for sub in (usage, dispute):
        sub.add_argument("--from", dest="first", required=True, type=_day, help="first UTC day, YYYY-MM-DD")
        sub.add_argument("--to", dest="last", required=True, type=_day, help="last UTC day (inclusive)")
    return top


def _api_url(args: argparse.Namespace, fail: Any) -> str:
    if args.api_url:
        return args.api_url
    if args.outputs_json:
        try:
            return json.loads(args.outputs_json.read_text())["api_url"]
        except (OSError, ValueError, KeyError):
            fail(f"{args.outputs_json} has no api_url (is the sandbox running?)")
    fail("name the API with --api-url (the stack's ApiUrl output) or --outputs-json")
    return ""


def _credentials(args: argparse.Namespace, fail: Any) -> tuple[Any, str]:
    try:
        session = botocore.session.Session(profile=args.profile)
        credentials = session.get_credentials()
        region = args.region or session.get_config_variable("region") or "us-east-1"
    except BotoCoreError as exc:
        fail(f"AWS credentials: {exc}")
    if credentials is None:
        fail(
            "no AWS credentials found (environment, --profile, SSO or instance role): sign in as an operator"
        )
    return credentials.get_frozen_credentials(), region


# ---------------------------------------------------------------------------------- output


def table(rows: list[dict], columns: list[str]) -> str:
    if not rows:
        return "(none)"
    cells = [[("" if row.get(c) is None else str(row.get(c))) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


CUSTOMER_COLUMNS = ["team_id", "status", "owner_email", "aws_account_id", "keys_active", "last_usage_at"]


def dispute_rows(report: dict) -> tuple[list[dict], list[dict]]:
    days = []
    dimensions = sorted({d for day in report["days"] for d in day["usage"]})
    for day in report["days"]:
        errors = ", ".join(f"{code} {n}" for code, n in day["errors"].items())
        days.append(
            {
                "date": day["date"],
                **{f"usage:{d}": day["usage"].get(d, 0) for d in dimensions},
                "calls": day["calls"],
                "success": day["success"],
                "client_error": day["client_error"],
                "server_error": day["server_error"],
                "errors": errors,
            }
        )
    return days, report["metering_records"]


RECORD_COLUMNS = ["hour", "dimension", "quantity", "status", "metering_record_id", "metered_at", "error"]


def dispute_csv(report: dict) -> str:
    """One CSV with a `section` column (day / metering), so one file carries the whole report."""
    days, records = dispute_rows(report)
    day_columns = list(days[0]) if days else ["date"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", *day_columns])
    for row in days:
        writer.writerow(["day", *(row.get(c, "") for c in day_columns)])
    writer.writerow([])
    writer.writerow(["section", *RECORD_COLUMNS])
    for row in records:
        writer.writerow(["metering", *("" if row.get(c) is None else row.get(c) for c in RECORD_COLUMNS)])
    return out.getvalue()


def render(args: argparse.Namespace, answer: Any) -> str:
    if args.json:
        return json.dumps(answer, indent=2)
    if args.command == "customers":
        return table(answer["customers"], CUSTOMER_COLUMNS)
    if args.command in ("approve", "suspend", "resume"):
        return f"{answer['team_id']}: {answer['status']}" + (
            f" ({answer['suspension_reason']})" if answer.get("suspension_reason") else ""
        )
    if args.command == "usage":
        return f"usage {answer['from']} .. {answer['to']}\n" + table(
            answer["usage"], ["team_id", "dimension", "quantity", "metered_quantity"]
        )
    if args.command == "dispute":
        if args.csv:
            return dispute_csv(answer).rstrip("\n")
        days, records = dispute_rows(answer)
        return (
            f"dispute report for {answer['team_id']}, {answer['from']} .. {answer['to']} (UTC days)\n\n"
            + table(days, list(days[0]) if days else ["date"])
            + "\n\nmetering records\n"
            + table(records, RECORD_COLUMNS)
        )
    return json.dumps(answer, indent=2)


def run(args: argparse.Namespace, client: AdminClient) -> Any:
    team = f"/v1/admin/customers/{urllib.parse.quote(getattr(args, 'team_id', '') or '', safe='')}"
    if args.command == "customers":
        query = {"limit": str(args.limit), **({"status": args.status} if args.status else {})}
        answer = client.call("GET", "/v1/admin/customers", query)
        customers = list(answer["customers"])
        while args.all and answer.get("next_token"):
            answer = client.call("GET", "/v1/admin/customers", {**query, "next_token": answer["next_token"]})
            customers += answer["customers"]
        return {"customers": customers, "next_token": answer.get("next_token")}
    if args.command in ("approve", "resume"):
        return client.call("POST", f"{team}/{args.command}", body={})
    if args.command == "suspend":
        return client.call("POST", f"{team}/suspend", body={"reason": args.reason})
    if args.command == "usage":
        return client.call("GET", "/v1/admin/usage", {"from": args.first, "to": args.last})
    return client.call("GET", f"{team}/dispute", {"from": args.first, "to": args.last})


def main(argv: Sequence[str] | None = None, *, prog: str = "vendstack admin") -> int:
    top = parser(prog)
    args = top.parse_args(argv)
    if args.command == "customers" and not 1 <= args.limit <= 100:
        top.error("--limit must be from 1 to 100")
    if getattr(args, "first", None) and args.first > args.last:
        top.error("--from must not be after --to")
    api_url = _api_url(args, top.error)
    credentials, region = _credentials(args, top.error)
    try:
        answer = run(args, AdminClient(api_url, credentials, region))
    except AdminError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    print(render(args, answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
