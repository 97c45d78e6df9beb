"""Responses carry CORS headers for the developer page's origins, and only for those."""

from __future__ import annotations

import json

from aws_lambda_powertools import Logger

from shared.config import cors_origins
from shared.http import json_response, make_resolver


def event(origin: str) -> dict:
    return {
        "resource": "/v1/ping",
        "path": "/v1/ping",
        "httpMethod": "GET",
        "headers": {"Origin": origin},
        "multiValueHeaders": {"Origin": [origin]},
        "requestContext": {"requestId": "r", "stage": "prod", "identity": {"sourceIp": "127.0.0.1"}},
        "body": None,
        "isBase64Encoded": False,
    }


def resolver():
    app = make_resolver(Logger(service="test"))

    @app.get("/v1/ping")
    def ping():
        return json_response(200, {"ok": True})

    return app


def test_configured_origin_gets_cors_headers(monkeypatch):
    monkeypatch.setenv("VS_CORS_ORIGINS", "https://app.example.com,http://localhost:8080")
    answer = resolver().resolve(event("http://localhost:8080"), {})
    headers = {k.lower(): v for k, v in (answer.get("multiValueHeaders") or {}).items()}
    assert headers["access-control-allow-origin"] == ["http://localhost:8080"]
    assert json.loads(answer["body"]) == {"ok": True}


def test_other_origins_get_none(monkeypatch):
    monkeypatch.setenv("VS_CORS_ORIGINS", "https://app.example.com")
    answer = resolver().resolve(event("https://evil.example.net"), {})
    headers = {k.lower() for k in (answer.get("multiValueHeaders") or {})}
    assert "access-control-allow-origin" not in headers


def test_origins_parse():
    assert cors_origins({"VS_CORS_ORIGINS": " https://a.example.com, ,http://localhost:8080 "}) == (
        "https://a.example.com",
        "http://localhost:8080",
    )
    assert cors_origins({}) == ()
