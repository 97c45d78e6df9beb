"""The sandbox: AWS emulated by moto on 127.0.0.1, the vendor template provisioned into it,
and the template's API served by the platform's own handlers (docs/protocol.md §6)."""

from __future__ import annotations

import base64
import functools
import json
import logging
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, urlsplit

import boto3
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from customer_stack.publish import publish
from customer_stack.render import write_rendered
from sandbox.cheaper_moto import install as install_cheaper_moto
from sandbox.customer_account import CustomerAccounts
from sandbox.customer_routes import CustomerRoutes
from sandbox.developer_page import COGNITO_PATH, DeveloperPageServer, UserPoolFront
from sandbox.gateway import (
    ApiGateway,
    CognitoVerifier,
    GatewayResponse,
    HttpRequest,
    binary_media_types,
    gateway_responses,
    preflight_headers,
    routes_from_template,
    write_response,
)
from sandbox.iam_auth import IamCredentials, IamGate, ResourcePolicy
from sandbox.local_http import local_server, serve_in_background
from sandbox.marketplace import MarketplaceEmulator
from sandbox.marketplace_deployment import MotoBuyerSecrets
from sandbox.provision import Provisioned, provision
from sandbox.releases import Releases
from sandbox.streams import EventCollector, StreamPump, event_buses, stream_mappings
from sandbox.triggers import scheduled_event, sqs_event, triggers_from_template
from sandbox.workers import FunctionError, FunctionSpec, FunctionWorker, base_environment

REGION = "us-east-1"
MAX_BODY = 10 * 1024 * 1024  # API Gateway's own limit; the functions enforce the contract's 64 KiB


def _json(status: int, body: dict) -> GatewayResponse:
    return GatewayResponse(status, json.dumps(body), {})


def _error(status: int, code: str, message: str) -> GatewayResponse:
    return _json(status, {"error": {"code": code, "message": message}})


class Sandbox:
    def __init__(
        self,
        cdk_out: Path,
        vendor_stack: str,
        customer_template: Path,
        state_dir: Path,
        log: IO[str],
        port: int = 0,
    ) -> None:
        self.cdk_out = cdk_out
        self.vendor_stack = vendor_stack
        self.customer_template = customer_template
        self.state_dir = state_dir
        self.log = log
        self.port = port
        self.endpoints_file = state_dir / "endpoints.json"
        self._moto: ThreadedMotoServer | None = None
        self._http: ThreadingHTTPServer | None = None
        self._workers: dict[str, FunctionWorker] = {}
        self._marketplace: MarketplaceEmulator | None = None
        self._page: DeveloperPageServer | None = None
        self.user_pool_front: UserPoolFront | None = None
        self.clock_now: datetime | None = None  # set by a job's "now"; the emulator follows it
        self.endpoints: dict[str, Any] = {}
        self.sandbox_routes: dict[tuple[str, str], Callable[[dict], GatewayResponse]] = {}
        # Sandbox routes served by path prefix: (prefix, route(method, path, body)).
        self.prefix_routes: list[tuple[str, Callable[[str, str, bytes], GatewayResponse]]] = []
        self.customer_accounts: CustomerAccounts | None = None

    # -- start / stop -------------------------------------------------------------------
    def start(self, progress: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        install_cheaper_moto()  # the same answers for less CPU (sandbox/cheaper_moto.py)
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        self.aws_endpoint = f"http://{host}:{port}"
        self._session = boto3.session.Session(
            aws_access_key_id="sandbox",
            aws_secret_access_key="sandbox",  # noqa: S106 - the emulator accepts any credentials
            region_name=REGION,
        )
        progress(f"AWS emulator (moto) on {self.aws_endpoint}")
        # The page's own origin exists before provisioning: the template's functions name it
        # (CORS origins, the fulfillment redirect) through the CloudFront domain it stands in for.
        self._page = DeveloperPageServer(self.log)
        progress(f"provisioning {self.vendor_stack} from {self.cdk_out}")
        self.stack = provision(
            self.cdk_out,
            self.vendor_stack,
            REGION,
            lambda service: self._session.client(service, endpoint_url=self.aws_endpoint),
            stand_ins=self._page_stand_ins(),
        )
        product = self._product()
        self._marketplace = MarketplaceEmulator(
            product["product_code"],
            [d["name"] for d in product["dimensions"]],
            clock=self.now,
            product_id=product.get("product_id") or None,
        )
        # Quick Launch: deployment parameters become secrets in the buyer's account, here in moto.
        self._marketplace.deployment.buyer_secrets = MotoBuyerSecrets(self.aws_endpoint, REGION)
        self.marketplace_url = self._marketplace.start()
        progress(f"AWS Marketplace emulator on {self.marketplace_url}")
        self.triggers = triggers_from_template(self.stack.template)
        self._verify_senders()
        self._start_workers()
        clients = lambda service: self._session.client(service, endpoint_url=self.aws_endpoint)  # noqa: E731
        self.stream_pump = StreamPump(
            stream_mappings(self.stack.template), self.stack.physical, self._workers, clients
        )
        self.lifecycle = EventCollector(
            [self.stack.physical[b] for b in event_buses(self.stack.template)], clients
        )
        self._start_http()
        progress(f"platform API on {self.api_url}")
        self._start_page()
        progress(f"developer page on {self.page.url}")
        self.vendor_outputs = {**self.stack.outputs(), "ApiUrl": self.api_url}
        self._render_customer_template()
        self.release = publish(
            self.vendor_outputs,
            session=self._session,
            endpoint_url=self.aws_endpoint,
            product=product["name"],
            version=product["version"],
            template_path=self.customer_template,
            work_dir=self.state_dir / "release",
            progress=lambda m: progress(f"publish: {m}"),
            region=REGION,
            sandbox=True,
        )
        self._start_customer_accounts(product["name"])
        self.endpoints = {
            "api_url": self.api_url,
            "aws_endpoint_url": self.aws_endpoint,
            "region": REGION,
            "user_pool_id": self.user_pool_id,
            "user_pool_client_id": self.client_id,
            "customer_template": str(self.rendered_template.resolve()),
            "developer_page_url": self.page.url,
            "vendor_outputs": self.vendor_outputs,
            "marketplace": {"endpoint_url": self.marketplace_url, "product_code": product["product_code"]},
        }
        if self.admin_credentials:
            self.endpoints["admin_credentials"] = self.admin_credentials
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.endpoints_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.endpoints, indent=2) + "\n")
        tmp.replace(self.endpoints_file)
        progress(f"ready: {self.endpoints_file}")
        return self.endpoints

    @property
    def marketplace(self) -> MarketplaceEmulator:
        """The Marketplace emulator (from `start` on)."""
        if self._marketplace is None:
            raise RuntimeError("the sandbox is not started")
        return self._marketplace

    @property
    def page(self) -> DeveloperPageServer:
        """The developer page's server (from `start` on)."""
        if self._page is None:
            raise RuntimeError("the sandbox is not started")
        return self._page

    def stop(self) -> None:
        self.endpoints_file.unlink(missing_ok=True)
        if self._page:
            self._page.stop()
        if self.customer_accounts:
            self.customer_accounts.stop()
        if self._http:
            self._http.shutdown()
            self._http.server_close()
        # All workers at once: each may take up to its grace period to exit, and on a loaded machine
        # one after another outlasted a caller's patience.
        with ThreadPoolExecutor(max_workers=max(1, len(self._workers))) as pool:
            list(pool.map(lambda worker: worker.stop(), self._workers.values()))
        if self._marketplace:
            self._marketplace.stop()
        if self._moto:
            self._moto.stop()

    # -- pieces -------------------------------------------------------------------------
    def _page_stand_ins(self) -> dict[tuple[str, str], str]:
        """The sandbox's page host in place of each CloudFront distribution's domain name."""
        template = json.loads((self.cdk_out / f"{self.vendor_stack}.template.json").read_text())
        return {
            (logical, "DomainName"): self.page.host
            for logical, resource in template["Resources"].items()
            if resource["Type"] == "AWS::CloudFront::Distribution"
        }

    def _page_environment(self, environment: dict[str, str]) -> dict[str, str]:
        """The sandbox serves the page over HTTP: its origin is `http://`, not CloudFront's `https://`."""
        secure = f"https://{self.page.host}"
        return {k: v.replace(secure, self.page.origin) for k, v in environment.items()}

    def _start_page(self) -> None:
        self.user_pool_front = UserPoolFront(self._cognito, self.user_pool_id, self.page.origin)
        self.page.configure(
            {
                "api_url": self.api_url,
                "region": REGION,
                "user_pool_id": self.user_pool_id,
                "user_pool_client_id": self.client_id,
                "cognito_endpoint": f"{self.api_url}{COGNITO_PATH}",
            },
            self.api_url,
        )
        self.page.start()

    def _start_workers(self) -> None:
        stack: Provisioned = self.stack
        lam = self._session.client("lambda", endpoint_url=self.aws_endpoint)
        base = {
            **base_environment(self.aws_endpoint, REGION),
            "AWS_ENDPOINT_URL_MARKETPLACE_METERING": self.marketplace_url,
            "AWS_ENDPOINT_URL_MARKETPLACE_ENTITLEMENT_SERVICE": self.marketplace_url,
            "AWS_ENDPOINT_URL_MARKETPLACE_AGREEMENT": self.marketplace_url,
            "AWS_ENDPOINT_URL_MARKETPLACE_DEPLOYMENT": self.marketplace_url,
            # Jobs run at the `now` a sandbox caller chose; deployed, the job clamps to real time.
            "VS_SANDBOX_EVENT_CLOCK": "1",
            # The emulator signs its SNS messages with a certificate only these workers trust.
            "VS_SANDBOX_SNS_CERTS": json.dumps(self.marketplace.sns_trust()),
        }
        assets = json.loads((self.cdk_out / f"{self.vendor_stack}.assets.json").read_text())["files"]
        for logical, resource in stack.resources_of_type("AWS::Lambda::Function").items():
            if logical in stack.skipped:
                continue  # the developer page's deployment function: see provision.py
            s3_key = resource["Properties"]["Code"].get("S3Key")
            if not isinstance(s3_key, str):
                continue  # inline code: nothing the sandbox serves
            asset = assets[s3_key.split(".")[0]]["source"]["path"]
            config = lam.get_function_configuration(FunctionName=stack.physical[logical])
            spec = FunctionSpec(
                logical_id=logical,
                name=config["FunctionName"],
                handler=config["Handler"],
                asset_dir=(self.cdk_out / asset).resolve(),
                environment=self._page_environment(config.get("Environment", {}).get("Variables", {})),
                timeout_s=int(config.get("Timeout", 30)),
                memory_mb=int(config.get("MemorySize", 512)),
            )
            self._workers[logical] = FunctionWorker(spec, base, self.log)

    def dispatch(
        self, command: str, raw_path: str, headers: dict[str, str], body: bytes, client_ip: str
    ) -> GatewayResponse:
        """One request to the sandbox's port: the Cognito front, a CORS preflight, a sandbox route,
        or the vendor API through the gateway."""
        parts = urlsplit(raw_path)
        lower = {k.lower(): v for k, v in headers.items()}
        origin = lower.get("origin")
        route = self.sandbox_routes.get((command, parts.path))
        prefixed = next((r for p, r in self.prefix_routes if parts.path.startswith(p)), None)
        if parts.path == COGNITO_PATH:
            response = self._user_pool_call(command, lower.get("x-amz-target", ""), body)
            if self.user_pool_front is not None:
                response.headers.update(self.user_pool_front.cors_headers(origin))
            return response
        if command == "OPTIONS" and not parts.path.startswith("/_sandbox/"):
            return self.gateway.preflight(parts.path, origin, self.cors_origins)
        if route:
            return self._sandbox_call(route, body)
        if prefixed:
            return prefixed(command, parts.path, body)
        try:
            return self.gateway.handle(
                HttpRequest(
                    command,
                    parts.path,
                    parse_qsl(parts.query, keep_blank_values=True),
                    headers,
                    body,
                    client_ip,
                )
            )
        except Exception:  # the emulator itself failed: say so, keep serving
            self.log.write(f"sandbox: gateway error\n{traceback.format_exc()}")
            return GatewayResponse(500, json.dumps({"message": "Sandbox gateway error"}), {})

    def _start_http(self) -> None:
        template = self.stack.template
        cognito = self._session.client("cognito-idp", endpoint_url=self.aws_endpoint)
        pool_logical = self.stack.first_of_type("AWS::Cognito::UserPool")
        self.user_pool_id = self.stack.physical[pool_logical]
        self.client_id = self.stack.physical[self.stack.first_of_type("AWS::Cognito::UserPoolClient")]
        pools = {k: self.stack.physical[k] for k in self.stack.resources_of_type("AWS::Cognito::UserPool")}
        clients: dict[str, set[str]] = {}
        for pool_id in pools.values():
            listed = cognito.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
            clients[pool_id] = {c["ClientId"] for c in listed}
        stage = next(
            (
                r["Properties"]["StageName"]
                for r in template["Resources"].values()
                if r["Type"] == "AWS::ApiGateway::Stage"
            ),
            "prod",
        )
        policy = ResourcePolicy.from_template(template)
        self.iam_credentials = IamCredentials()
        operators = policy.operator_principals()
        # One vendor operator, the first principal the admin API admits (docs/protocol.md §6).
        self.admin_credentials = self.iam_credentials.create(operators[0]) if operators else None
        self.gateway = ApiGateway(
            routes_from_template(template),
            self._workers,
            CognitoVerifier(self.aws_endpoint, REGION, pools, clients),
            gateway_responses(template),
            stage,
            preflight=preflight_headers(template),
            binary_types=binary_media_types(template),
            iam=IamGate(self.iam_credentials, policy, REGION),
        )
        self._cognito = cognito
        self.sandbox_routes = {
            ("POST", "/_sandbox/users"): self._create_user,
            ("POST", "/_sandbox/tokens"): self._sign_in,
            ("POST", "/_sandbox/marketplace/subscriptions"): self._mp_subscribe,
            ("POST", "/_sandbox/marketplace/events"): self._mp_event,
            ("GET", "/_sandbox/marketplace/metered"): self._mp_metered,
            ("POST", "/_sandbox/marketplace/quick-launch"): self._mp_quick_launch,
            ("POST", "/_sandbox/users/confirmation-code"): self._confirmation_code,
            ("POST", "/_sandbox/iam/credentials"): self._iam_credentials,
            ("GET", "/_sandbox/events"): self._lifecycle_events,
        }
        for job in self.triggers.jobs:
            self.sandbox_routes[("POST", f"/_sandbox/jobs/{job}")] = functools.partial(self._run_job, job)
        sandbox = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt: str, *args: Any) -> None:
                # Paths only: query strings and headers may carry credentials.
                sandbox.log.write(
                    f"api: {self.command} {urlsplit(self.path).path} -> {args[1] if len(args) > 1 else ''}\n"
                )

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    self._send(_error(413, "PayloadTooLarge", "Request body is over API Gateway's limit."))
                    return
                body = self.rfile.read(length) if length else b""
                self._send(
                    sandbox.dispatch(
                        self.command, self.path, dict(self.headers.items()), body, self.client_address[0]
                    )
                )

            def _send(self, response: GatewayResponse) -> None:
                write_response(self, response)

            do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = do_OPTIONS = _serve

        self._http = local_server(Handler, self.port)
        self.api_url = f"http://127.0.0.1:{self._http.server_address[1]}"
        serve_in_background(self._http, "sandbox-api")

    def _start_customer_accounts(self, product: str) -> None:
        """The buyer's side: releases and customer accounts (sandbox/customer_account.py)."""
        self.releases = Releases(self, product)
        self.customer_accounts = CustomerAccounts(
            self.aws_endpoint, REGION, self.releases.vendor_side(), self.state_dir, self.log
        )
        routes = CustomerRoutes(self.customer_accounts, self.releases.publish, self.now)
        self.prefix_routes.extend(routes.prefixes())

    def _render_customer_template(self) -> None:
        kms = self._session.client("kms", endpoint_url=self.aws_endpoint)
        manifest_key = next(
            k
            for k, r in sorted(self.stack.resources_of_type("AWS::KMS::Key").items())
            if r["Properties"].get("KeyUsage") == "SIGN_VERIFY"
        )
        public_key = kms.get_public_key(KeyId=self.stack.physical[manifest_key])["PublicKey"]
        profile = self.stack.first_of_type("AWS::Signer::SigningProfile")
        self.rendered_template = self.state_dir / "customer.rendered.template.json"
        write_rendered(
            self.customer_template,
            self.rendered_template,
            api_url=self.api_url,
            public_key_b64=base64.b64encode(public_key).decode(),
            signing_profile_version_arn=self.stack.attributes[(profile, "ProfileVersionArn")],
            release_version=str(self._product()["version"]),
        )

    # -- clock, product -------------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock_now or datetime.now(UTC)

    def _product(self) -> dict:
        """The product configuration, as the template gives it to the functions (VS_PRODUCT)."""
        for resource in self.stack.resources_of_type("AWS::Lambda::Function").values():
            value = resource["Properties"].get("Environment", {}).get("Variables", {}).get("VS_PRODUCT")
            if isinstance(value, str):
                return json.loads(value)
        raise RuntimeError("no function in the vendor template has VS_PRODUCT")

    def _verify_senders(self) -> None:
        """The vendor verifies the notices sender in SES once; the sandbox does it in the emulator."""
        ses = self._session.client("sesv2", endpoint_url=self.aws_endpoint)
        for resource in self.stack.resources_of_type("AWS::Lambda::Function").values():
            sender = (
                resource["Properties"].get("Environment", {}).get("Variables", {}).get("VS_NOTICES_SENDER")
            )
            if isinstance(sender, str) and sender:
                ses.create_email_identity(EmailIdentity=sender)

    def _invoke(self, function: str, event: dict) -> GatewayResponse:
        try:
            result = self._workers[function].invoke(event)
        except FunctionError as exc:
            return _error(502, "FunctionError", str(exc).split(":")[0])
        return _json(200, result if isinstance(result, dict) else {"result": result})

    # -- sandbox-only routes ------------------------------------------------------------
    def _run_job(self, job: str, document: dict) -> GatewayResponse:
        if "now" in document:
            try:
                self.clock_now = datetime.fromisoformat(str(document["now"]).replace("Z", "+00:00"))
            except ValueError:
                return _error(400, "ValidationError", "Field 'now' must be an RFC 3339 timestamp.")
            if self.clock_now.tzinfo is None:
                return _error(400, "ValidationError", "Field 'now' must carry a time zone (Z).")
        return self._invoke(self.triggers.jobs[job], scheduled_event(job, self.now()))

    def _mp_subscribe(self, document: dict) -> GatewayResponse:
        account = document.get("aws_account_id")
        if not isinstance(account, str) or not account.isdigit() or len(account) != 12:
            return _error(400, "ValidationError", "Field 'aws_account_id' must be 12 digits.")
        made = self.marketplace.create_subscription(account, legacy=bool(document.get("legacy", False)))
        return _json(201, made)

    def _mp_event(self, document: dict) -> GatewayResponse:
        kind, account = document.get("type"), document.get("aws_account_id")
        if not isinstance(kind, str) or not isinstance(account, str):
            return _error(400, "ValidationError", "Fields 'type' and 'aws_account_id' are required.")
        try:
            payload = self.marketplace.event(kind, account)
        except (KeyError, ValueError) as exc:
            return _error(400, "ValidationError", str(exc))
        if payload.get("Type") == "Notification":
            function, event = self.triggers.marketplace_queue, sqs_event(payload)
        else:
            function, event = self.triggers.marketplace_rule, payload
        if function is None:
            return _error(
                501, "NotEmulated", "The vendor template has no consumer for this Marketplace event."
            )
        return self._invoke(function, event)

    def _lifecycle_events(self, _document: dict) -> GatewayResponse:
        """Delivers the tables' pending stream records to the translator, then every lifecycle event
        the bus's rule has put on the sandbox's queue since start."""
        try:
            self.stream_pump.pump()
        except FunctionError as exc:
            return _error(502, "FunctionError", str(exc).split(":")[0])
        return _json(200, {"events": self.lifecycle.drain()})

    def _iam_credentials(self, document: dict) -> GatewayResponse:
        """Access keys of another IAM principal of the vendor account (one the admin API may not admit)."""
        arn = document.get("principal_arn")
        try:
            made = self.iam_credentials.create(arn if isinstance(arn, str) else "")
        except ValueError as exc:
            return _error(400, "ValidationError", f"Field 'principal_arn': {exc}.")
        return _json(201, {"principal_arn": arn, **made})

    def _mp_quick_launch(self, document: dict) -> GatewayResponse:
        """What Quick Launch fills into the template for this buyer: each deployment parameter's
        name with the secret's ARN in the buyer's account (a reference, never the value)."""
        account = document.get("aws_account_id")
        if not isinstance(account, str) or not account.isdigit() or len(account) != 12:
            return _error(400, "ValidationError", "Field 'aws_account_id' must be 12 digits.")
        parameters = self.marketplace.deployment.quick_launch_parameters(account, self.marketplace.product_id)
        if not parameters:
            return _error(
                404, "NotFound", "The vendor has delivered no deployment parameter to this account."
            )
        return _json(200, {"parameters": parameters})

    def _mp_metered(self, _document: dict) -> GatewayResponse:
        return _json(200, {"records": self.marketplace.metered()})

    def _sandbox_call(self, route: Callable[[dict], GatewayResponse], body: bytes) -> GatewayResponse:
        try:
            document = json.loads(body or b"{}")
            if not isinstance(document, dict):
                raise ValueError
        except ValueError:
            return _error(400, "ValidationError", "Request body must be a JSON object.")
        try:
            return route(document)
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            status = 401 if code == "NotAuthorizedException" else 400
            return _error(status, code, exc.response["Error"].get("Message", code).split(":")[0])

    def _credentials(self, document: dict) -> tuple[str, str] | GatewayResponse:
        email, password = document.get("email"), document.get("password")
        if not isinstance(email, str) or "@" not in email or not isinstance(password, str) or not password:
            return _error(400, "ValidationError", "Fields 'email' and 'password' are required.")
        return email, password

    def _create_user(self, document: dict) -> GatewayResponse:
        creds = self._credentials(document)
        if isinstance(creds, GatewayResponse):
            return creds
        email, password = creds
        made = self._cognito.sign_up(
            ClientId=self.client_id,
            Username=email,
            Password=password,
            UserAttributes=[{"Name": "email", "Value": email}],
        )
        self._cognito.admin_confirm_sign_up(UserPoolId=self.user_pool_id, Username=email)
        self._cognito.admin_update_user_attributes(
            UserPoolId=self.user_pool_id,
            Username=email,
            UserAttributes=[{"Name": "email_verified", "Value": "true"}],
        )
        return _json(201, {"email": email, "sub": made["UserSub"]})

    @property
    def cors_origins(self) -> tuple[str, ...]:
        """The page origins the functions allow (`VS_CORS_ORIGINS`), the sandbox page's among them."""
        for worker in self._workers.values():
            value = worker.spec.environment.get("VS_CORS_ORIGINS")
            if value:
                return tuple(o.strip() for o in value.split(",") if o.strip())
        return ()

    def _user_pool_call(self, method: str, target: str, body: bytes) -> GatewayResponse:
        amz_json = {"Content-Type": "application/x-amz-json-1.1"}
        if method == "OPTIONS":
            return GatewayResponse(200, "", {})
        if method != "POST" or self.user_pool_front is None:
            return GatewayResponse(405, json.dumps({"__type": "MethodNotAllowed"}), amz_json)
        status, document = self.user_pool_front.handle(target, body)
        return GatewayResponse(status, json.dumps(document), amz_json)

    def _confirmation_code(self, document: dict) -> GatewayResponse:
        """The code Cognito would have emailed at sign-up (the sandbox sends no email)."""
        email = document.get("email")
        if not isinstance(email, str) or "@" not in email:
            return _error(400, "ValidationError", "Field 'email' is required.")
        code = self.user_pool_front.code_for(email) if self.user_pool_front else None
        if code is None:
            return _error(404, "NotFound", "No confirmation code is pending for this email.")
        return _json(200, {"email": email, "code": code})

    def _sign_in(self, document: dict) -> GatewayResponse:
        creds = self._credentials(document)
        if isinstance(creds, GatewayResponse):
            return creds
        email, password = creds
        result = self._cognito.admin_initiate_auth(
            UserPoolId=self.user_pool_id,
            ClientId=self.client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": password},
        )
        return _json(200, {"id_token": result["AuthenticationResult"]["IdToken"]})
