"""The usage reporter's configuration (`reporter/config.py`): the environment the template sets,
and the key pair, never shown."""

import json

import pytest

from customer_stack.usage.reporter import config as reporter_config

SECRET = "vsSK_unit-test-secret-0123456789abcdefghijklmnop"


def _env(**overrides):
    env = {
        "USAGE_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/111122223333/usage",
        "VENDOR_API_URL": "https://api.example.com/prod",
        "SECRET_ARN": "arn:aws:secretsmanager:us-east-1:111122223333:secret:key",
        "DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/111122223333/usage-dlq",
        "USAGE_WINDOW_HOURS": "6",
    }
    return {k: v for k, v in (env | overrides).items() if v is not None}


def test_config_is_read_from_the_environment():
    config = reporter_config.load_config(_env(MAX_RECEIVE_ROUNDS="5", RECEIVE_WAIT_SECONDS="0"))
    assert config.usage_url == "https://api.example.com/prod/v1/usage"
    assert (config.max_receive_rounds, config.receive_wait_seconds) == (5, 0)
    assert config.window_hours == 6 and config.dead_letter_queue_url.endswith("/usage-dlq")
    assert reporter_config.load_config(_env(VENDOR_API_URL="http://127.0.0.1:8080/")).usage_url == (
        "http://127.0.0.1:8080/v1/usage"
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {"USAGE_QUEUE_URL": None},
        {"SECRET_ARN": ""},
        {"VENDOR_API_URL": "http://api.example.com/prod"},
        {"VENDOR_API_URL": "ftp://127.0.0.1/"},
        {"VENDOR_API_URL": "https://api.example.com/prod?x=1"},
        {"MAX_RECEIVE_ROUNDS": "many"},
        {"USAGE_WINDOW_HOURS": None},  # the window comes from the template, never a default
        {"USAGE_WINDOW_HOURS": "0"},
        {"USAGE_WINDOW_HOURS": "six"},
        {"DEAD_LETTER_QUEUE_URL": ""},
    ],
)
def test_bad_config_is_refused(overrides):
    with pytest.raises(reporter_config.ReporterError):
        reporter_config.load_config(_env(**overrides))


class _Secrets:
    def __init__(self, value):
        self.value = value

    def get_secret_value(self, SecretId):
        return {"SecretString": self.value}


def test_credentials_come_from_the_secret_and_never_show_the_secret_key():
    creds = reporter_config.read_credentials(
        _Secrets(json.dumps({"access_key": "VSAK1", "secret_key": SECRET})), "arn"
    )
    assert creds.access_key == "VSAK1" and creds.secret_key == SECRET
    assert SECRET not in repr(creds)


@pytest.mark.parametrize(
    "value", ["not json " + SECRET, json.dumps({"access_key": "VSAK1"}), json.dumps([SECRET])]
)
def test_a_bad_secret_is_refused_without_echoing_it(value):
    with pytest.raises(reporter_config.ReporterError) as caught:
        reporter_config.read_credentials(_Secrets(value), "arn")
    assert SECRET not in str(caught.value)
