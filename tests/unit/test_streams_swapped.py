"""`tests.plugins.keys_world.streams_swapped`, behind the `log_output` fixture: every stream
handler writes to the buffer while swapped and to its own stream afterwards, also when two
loggers share one handler (Powertools loggers of one service share their `logging.Logger`)."""

from __future__ import annotations

import io
import logging
from types import SimpleNamespace

from tests.plugins.keys_world import streams_swapped


def test_a_shared_handler_gets_its_own_stream_back() -> None:
    own, other_own, buffer = io.StringIO(), io.StringIO(), io.StringIO()
    shared = logging.StreamHandler(own)
    other = logging.StreamHandler(other_own)
    plain = logging.Handler()
    first = SimpleNamespace(handlers=[shared, plain])
    second = SimpleNamespace(handlers=[shared, other])
    with streams_swapped((first, second), buffer):
        assert shared.stream is buffer and other.stream is buffer
        shared.emit(logging.makeLogRecord({"msg": "inside"}))
    assert shared.stream is own and other.stream is other_own
    shared.emit(logging.makeLogRecord({"msg": "after"}))
    assert buffer.getvalue() == "inside\n" and own.getvalue() == "after\n"


def test_the_streams_come_back_when_the_body_fails() -> None:
    own = io.StringIO()
    handler = logging.StreamHandler(own)
    try:
        with streams_swapped([SimpleNamespace(handlers=[handler])], io.StringIO()):
            raise RuntimeError("the test failed")
    except RuntimeError:
        pass
    assert handler.stream is own
