"""textlens: the sample paid solution, a small text-analytics API sold by usage.

Runs in the customer's account behind an API Gateway REST API (proxy integration); the zip of this
folder is the `api` artifact, handler `handler.handler`. Standard library only, so the artifact is
this one file and the customer's function needs no layer.

`POST /analyze` with `{"text": "...", "max_keywords": 5}` answers word and sentence counts, top
keywords, a lexicon-based sentiment score and a language guess (en, de, fr, es) by stopwords.
Every analysis is metered in two dimensions, `requests` and `characters` (see `usage_for`).
"""

import base64
import binascii
import json
import math
import re
from collections import Counter

try:  # in the artifact, the recorder and the license check sit beside this file
    from entitlement import entitled
    from recorder import record
except ImportError:  # in the repository (tests)
    from customer_stack.solution.entitlement import entitled
    from customer_stack.usage.recorder import record

MAX_TEXT_CHARS = 100_000
MAX_BODY_BYTES = 1024 * 1024  # 100k characters of any script fit, with JSON escaping
DEFAULT_KEYWORDS = 5
MAX_KEYWORDS = 20
FIELDS = frozenset({"text", "max_keywords"})

# A word is a run of letters, optionally joined by an apostrophe or hyphen ("don't", "e-mail").
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
# A sentence ends with ., ! or ? (any run of them) followed by space or the end of the text.
_SENTENCE_END = re.compile(r"[.!?…]+(?=\s|$)")
_CLAUSE_END = re.compile(r"[,;:.!?…()]+")

STOPWORDS = {
    "en": frozenset(
        "a about after all also an and any are as at be been but by can could did do does for from had has "
        "have he her his how i if in into is it its just me more my no not of on or our out she so some "
        "than that the their them then there these they this to too up us was we were what when which who "
        "will with would you your".split()
    ),
    "de": frozenset(
        "aber als am an auch auf aus bei bin bis das dass dem den der des die doch du ein eine einem einen "
        "einer er es für hat hatte ich ihr im in ist ja kein mit nach nicht noch nur oder sehr sich sie "
        "sind so über um und uns von vor war was wie wir wird zu zum zur".split()
    ),
    "fr": frozenset(
        "au aux avec ce ces cette dans de des du elle en est et être il ils je la le les leur lui mais me "
        "mes moi mon ne nous on ou par pas pour qu que qui sa se ses son sont sur ta te tu un une vous y "
        "à été".split()
    ),
    "es": frozenset(
        "al como con de del el ella ellos en es esta este está fue ha hay la las le les lo los más me mi "
        "muy no nos o para pero por que se sin sobre son su sus también te tu un una uno y ya".split()
    ),
}
_ALL_STOPWORDS = frozenset().union(*STOPWORDS.values())

POSITIVE = frozenset(
    # en
    "amazing awesome beautiful best better brilliant clean clear delight delighted easy effective "
    "efficient enjoy enjoyed excellent fantastic fast favorite fine fun glad good great happy helpful "
    "impressive like liked love loved lovely nice perfect pleasant pleased quick recommend reliable "
    "satisfied simple smooth solid success successful superb thank thanks useful valuable well wonderful "
    # de
    "ausgezeichnet einfach freude froh gern gut gute guten großartig hervorragend hilfreich klasse "
    "lieben perfekt prima schnell schön super toll wunderbar zufrieden zuverlässig".split()
)
NEGATIVE = frozenset(
    # en
    "angry annoying awful bad broken bug buggy confusing crash crashed difficult disappointed "
    "disappointing error expensive fail failed failure frustrated frustrating hard hate hated horrible "
    "poor problem problems sad slow terrible unhappy unreliable unusable useless waste worse worst wrong "
    # de
    "ärgerlich enttäuscht enttäuschend falsch fehler furchtbar kaputt langsam mangelhaft problem "
    "probleme schlecht schlechter schrecklich teuer traurig unzufrieden".split()
)
NEGATIONS = frozenset("not no never nothing hardly without nicht kein keine keinen nie ohne".split())
_NEGATION_REACH = 3  # a negation flips the polarity of sentiment words at most this many words on


class RequestError(Exception):
    """A client error in the shape of docs/protocol.md §1: {"error": {"code", "message"}}."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# --- the analysis ------------------------------------------------------------------------------


def words(text: str) -> list[str]:
    """Lowercased words; apostrophe variants are made the same ("don’t" = "don't")."""
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


def count_sentences(text: str) -> int:
    """Sentences with at least one word; a final sentence without end mark counts too."""
    return sum(1 for part in _SENTENCE_END.split(text) if _WORD.search(part))


def guess_language(tokens: list[str]) -> dict:
    """The language whose stopwords occur most; `unknown` when none occurs."""
    hits = {code: sum(1 for t in tokens if t in stop) for code, stop in STOPWORDS.items()}
    total = sum(hits.values())
    best = max(sorted(hits), key=lambda code: hits[code])
    if hits[best] == 0:
        return {"code": "unknown", "confidence": 0.0}
    return {"code": best, "confidence": round(hits[best] / total, 3)}


def keywords(tokens: list[str], limit: int) -> list[dict]:
    """The most frequent words that are not stopwords in any language and have 3+ letters;
    ties in alphabetical order, so the answer does not depend on word order."""
    counts = Counter(t for t in tokens if len(t) >= 3 and t not in _ALL_STOPWORDS)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return [{"word": word, "count": count} for word, count in ranked]


def sentiment(text: str) -> dict:
    """Lexicon score in [-1, 1]: (positive - negative) / (positive + negative) over sentiment words.
    A negation flips the words at most three on, within its clause ("not good, but fast")."""
    positive = negative = 0
    for clause in _CLAUSE_END.split(text):
        since_negation = _NEGATION_REACH + 1
        for token in words(clause):
            if token in NEGATIONS or token.endswith("n't"):
                since_negation = 0
                continue
            since_negation += 1
            polarity = (token in POSITIVE) - (token in NEGATIVE)
            if polarity and since_negation <= _NEGATION_REACH:
                polarity = -polarity
            positive += polarity > 0
            negative += polarity < 0
    score = (positive - negative) / (positive + negative) if positive + negative else 0.0
    label = "positive" if score > 0.2 else "negative" if score < -0.2 else "neutral"
    return {"score": round(score, 3), "label": label, "positive": positive, "negative": negative}


def usage_for(text: str) -> dict[str, int]:
    """What one analysis of `text` is billed: 1 request, and its characters in started thousands."""
    return {"requests": 1, "characters": math.ceil(len(text) / 1000)}


def analyze(text: str, max_keywords: int = DEFAULT_KEYWORDS) -> dict:
    tokens = words(text)
    return {
        "characters": len(text),
        "words": len(tokens),
        "sentences": count_sentences(text),
        "keywords": keywords(tokens, max_keywords),
        "sentiment": sentiment(text),
        "language": guess_language(tokens),
    }


# --- HTTP (API Gateway REST proxy integration) -------------------------------------------------


def _response(status: int, payload: dict) -> dict:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", "X-Content-Type-Options": "nosniff"},
        "body": json.dumps(payload, ensure_ascii=False),
        "isBase64Encoded": False,
    }


def _error(status: int, code: str, message: str) -> dict:
    return _response(status, {"error": {"code": code, "message": message}})


def parse_request(event: dict) -> tuple[str, int]:
    """The validated (text, max_keywords) of an analysis request, or a RequestError."""
    raw = event.get("body")
    if raw is None or raw == "":
        raise RequestError(400, "ValidationError", "the body must be a JSON object with a 'text' field")
    if event.get("isBase64Encoded"):
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise RequestError(400, "ValidationError", "the body is not valid base64") from None
    else:
        data = raw.encode("utf-8")
    if len(data) > MAX_BODY_BYTES:
        raise RequestError(413, "PayloadTooLarge", f"the body is over {MAX_BODY_BYTES} bytes")
    try:
        body = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise RequestError(400, "ValidationError", "the body is not valid UTF-8 JSON") from None
    if not isinstance(body, dict):
        raise RequestError(400, "ValidationError", "the body must be a JSON object with a 'text' field")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise RequestError(400, "ValidationError", f"unknown field(s): {', '.join(unknown)}")
    text = body.get("text")
    if text is None:
        raise RequestError(400, "ValidationError", "'text' is required")
    if not isinstance(text, str):
        raise RequestError(400, "ValidationError", "'text' must be a string")
    if not 1 <= len(text) <= MAX_TEXT_CHARS:
        raise RequestError(400, "ValidationError", f"'text' must be 1 to {MAX_TEXT_CHARS} characters long")
    limit = body.get("max_keywords", DEFAULT_KEYWORDS)
    if type(limit) is not int or not 1 <= limit <= MAX_KEYWORDS:
        raise RequestError(
            400, "ValidationError", f"'max_keywords' must be an integer from 1 to {MAX_KEYWORDS}"
        )
    return text, limit


def serve(event: dict, context: object = None) -> dict:
    """The API itself; `handler` is this behind the license check."""
    path = (event.get("path") or "/").rstrip("/") or "/"
    method = event.get("httpMethod", "")
    if path != "/analyze":
        return _error(404, "NotFound", f"no route {path}")
    if method != "POST":
        return _error(405, "MethodNotAllowed", "use POST /analyze")
    try:
        text, limit = parse_request(event)
        result = analyze(text, limit)
    except RequestError as exc:
        return _error(exc.status, exc.code, exc.message)
    except Exception:  # never a stack trace to the caller; Lambda logs it
        print(json.dumps({"level": "ERROR", "message": "analysis failed"}))
        return _error(500, "InternalError", "the analysis failed; retry later")
    result["usage"] = usage_for(text)  # what this call is billed
    record(result["usage"])  # onto the customer's usage queue; never fails the request
    return _response(200, result)


# The function's handler: a call runs only when the license token grants its route's entitlement
# (`cdk.json` → `license_tokens.routes`); otherwise 401/402 in the error shape, and nothing is
# analysed or metered.
handler = entitled()(serve)
