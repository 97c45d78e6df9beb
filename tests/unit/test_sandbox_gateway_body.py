"""The sandbox gateway hands a function the body API Gateway's REST proxy integration would:
text (UTF-8, invalid bytes replaced) unless the Content-Type matches a binary media type."""

from __future__ import annotations

import base64

from sandbox.gateway import binary_media_types, proxy_body


def test_without_binary_media_types_the_body_is_text_and_bad_bytes_are_replaced():
    assert proxy_body(b'{"a":"\xc3\xa9"}', "application/json", ()) == ('{"a":"é"}', False)
    assert proxy_body(b'{"a":"\xff"}', "application/json", ()) == ('{"a":"\ufffd"}', False)
    assert proxy_body(b"\x00\xfe", "application/octet-stream", ()) == ("\x00\ufffd", False)
    assert proxy_body(b"", "application/json", ()) == (None, False)


def test_a_matching_binary_media_type_is_passed_base64_encoded():
    body = b"\x89PNG\xff"
    assert proxy_body(body, "image/png; charset=binary", ("image/*",)) == (
        base64.b64encode(body).decode(),
        True,
    )
    assert proxy_body(body, "application/json", ("image/*",))[1] is False


def test_binary_media_types_come_from_the_rest_api():
    template = {
        "Resources": {
            "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"BinaryMediaTypes": ["image~1png"]}},
            "Other": {"Type": "AWS::S3::Bucket"},
        }
    }
    assert binary_media_types(template) == ("image/png",)
    assert binary_media_types({"Resources": {"Api": {"Type": "AWS::ApiGateway::RestApi"}}}) == ()
