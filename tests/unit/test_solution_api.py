"""The sample paid solution: the analysis, what it meters, and its HTTP edge."""

import base64
import json
from pathlib import Path

import pytest

from customer_stack.solution.api import handler as api
from tests.aws_fixtures import AWS_FIXTURES

FIXTURE = AWS_FIXTURES / "apigw-rest-proxy-event-cognito.json"


def _event(body, *, method="POST", path="/analyze", base64_encoded=False):
    event = json.loads(FIXTURE.read_text())
    event.update(resource="/analyze", path=path, httpMethod=method, pathParameters=None)
    event["requestContext"].update(resourcePath="/analyze", httpMethod=method, path=f"/prod{path}")
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
    if base64_encoded and body is not None:
        body = base64.b64encode(body.encode()).decode()
    event.update(body=body, isBase64Encoded=base64_encoded)
    return event


def _call(body, **kwargs):
    response = api.serve(_event(body, **kwargs), None)
    assert response["headers"]["Content-Type"] == "application/json"
    return response["statusCode"], json.loads(response["body"])


# --- analysis -----------------------------------------------------------------------------------


def test_solution_counts_words_and_sentences():
    text = "Hello there! How are you? I'm fine, thanks. E-mail me at 10 o'clock"
    result = api.analyze(text)
    assert result["words"] == 12  # "I'm", "E-mail" and "o'clock" are one word each; "10" is none
    assert result["sentences"] == 4
    assert result["characters"] == len(text)


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("", 0),
        ("no end mark", 1),
        ("One. Two! Three?", 3),
        ("Wait... what?!", 2),
        ("3.14 is pi.", 1),
        ("...", 0),
    ],
)
def test_solution_sentence_edges(text, sentences):
    assert api.count_sentences(text) == sentences


def test_solution_top_keywords_skip_stopwords_and_break_ties_alphabetically():
    text = "The cache is fast. The cache is cheap. Lambda runs the cache; lambda scales. Zebra apple."
    assert api.analyze(text, max_keywords=3)["keywords"] == [
        {"word": "cache", "count": 3},
        {"word": "lambda", "count": 2},
        {"word": "apple", "count": 1},
    ]


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("I love this product, it is fast and reliable.", "positive"),
        ("Terrible support and a buggy, slow app. I hate it.", "negative"),
        ("The meeting is at noon in room four.", "neutral"),
        ("This is not good.", "negative"),
        ("Honestly, not bad at all.", "positive"),
        ("It wasn't useful.", "negative"),
        ("Das Produkt ist super und sehr zuverlässig.", "positive"),
        ("Leider nicht gut, sehr langsam.", "negative"),
    ],
)
def test_solution_sentiment(text, label):
    assert api.analyze(text)["sentiment"]["label"] == label


def test_solution_sentiment_score_is_bounded_and_counted():
    result = api.sentiment("great great bad")
    assert result == {"score": 0.333, "label": "positive", "positive": 2, "negative": 1}
    assert api.sentiment("")["score"] == 0.0
    assert api.sentiment("not good, but fast")["label"] == "neutral"  # the negation ends at the comma


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("The weather is nice and we are going to the beach with our friends.", "en"),
        ("Der Hund ist sehr groß und wir gehen mit ihm in den Park.", "de"),
        ("Le chat est sur la table et il ne veut pas descendre pour le dîner.", "fr"),
        ("El perro está en la casa y no quiere salir con los niños por la lluvia.", "es"),
        ("1234 5678", "unknown"),
    ],
)
def test_solution_guesses_the_language(text, code):
    language = api.analyze(text)["language"]
    assert language["code"] == code
    assert 0.0 <= language["confidence"] <= 1.0


# --- metering -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("length", "characters"), [(1, 1), (999, 1), (1000, 1), (1001, 2), (100_000, 100)])
def test_solution_usage_for(length, characters):
    assert api.usage_for("x" * length) == {"requests": 1, "characters": characters}


def test_solution_usage_dimensions_match_the_product_configuration():
    config = json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())
    dimensions = {d["name"] for d in config["context"]["vendstack"]["dimensions"]}
    assert set(api.usage_for("text")) == dimensions


# --- HTTP ---------------------------------------------------------------------------------------


def test_solution_analyze_over_http():
    status, body = _call({"text": "Great service. Very fast!", "max_keywords": 2})
    assert status == 200
    assert body["words"] == 4 and body["sentences"] == 2
    assert body["sentiment"]["label"] == "positive"
    assert len(body["keywords"]) == 2
    assert body["usage"] == {"requests": 1, "characters": 1}


def test_solution_accepts_base64_bodies_and_unicode():
    status, body = _call({"text": "Schöne Grüße aus Köln. Das ist gut!"}, base64_encoded=True)
    assert status == 200
    assert body["language"]["code"] == "de"
    assert {"word": "grüße", "count": 1} in body["keywords"]


def test_solution_accepts_the_largest_text():
    status, body = _call({"text": "word " * 20_000})
    assert status == 200 and body["usage"]["characters"] == 100


@pytest.mark.parametrize(
    ("body", "status", "code", "fragment"),
    [
        (None, 400, "ValidationError", "JSON object"),
        ("", 400, "ValidationError", "JSON object"),
        ("{not json", 400, "ValidationError", "not valid UTF-8 JSON"),
        ([1, 2], 400, "ValidationError", "JSON object"),
        ('"text"', 400, "ValidationError", "JSON object"),
        ({}, 400, "ValidationError", "'text' is required"),
        ({"text": 42}, 400, "ValidationError", "'text' must be a string"),
        ({"text": ""}, 400, "ValidationError", "'text' must be 1 to 100000 characters"),
        ({"text": "x" * 100_001}, 400, "ValidationError", "'text' must be 1 to 100000 characters"),
        ({"text": "ok", "lang": "en"}, 400, "ValidationError", "unknown field(s): lang"),
        ({"text": "ok", "max_keywords": 0}, 400, "ValidationError", "'max_keywords'"),
        ({"text": "ok", "max_keywords": True}, 400, "ValidationError", "'max_keywords'"),
        ({"text": "ok", "max_keywords": "3"}, 400, "ValidationError", "'max_keywords'"),
        ("x" * (api.MAX_BODY_BYTES + 1), 413, "PayloadTooLarge", "over"),
    ],
)
def test_solution_rejects_bad_requests(body, status, code, fragment):
    got_status, got = _call(body)
    assert got_status == status
    assert set(got) == {"error"} and set(got["error"]) == {"code", "message"}
    assert got["error"]["code"] == code
    assert fragment in got["error"]["message"]


def test_solution_rejects_bad_base64():
    event = _event(None)
    event.update(body="***", isBase64Encoded=True)
    response = api.serve(event, None)
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"]["code"] == "ValidationError"


def test_solution_routes():
    assert _call({"text": "hi"}, method="GET")[0] == 405
    status, body = _call({"text": "hi"}, path="/nothing")
    assert (status, body["error"]["code"]) == (404, "NotFound")
    assert _call({"text": "hi"}, path="/analyze/")[0] == 200


def test_solution_hides_internal_errors(monkeypatch):
    def boom(text, limit):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(api, "analyze", boom)
    status, body = _call({"text": "hi"})
    assert status == 500
    assert "secret internals" not in json.dumps(body)
