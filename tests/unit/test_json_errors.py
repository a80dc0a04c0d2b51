"""The JSON routes' one error shape, returned (json_error) or raised (json_refusal)."""

import json

from aiohttp import web

from bots.http.errors import json_error, json_refusal


def test_a_raised_refusal_has_the_same_shape_as_a_returned_error() -> None:
    returned = json_error(503, "the phone line is starting")
    raised = json_refusal(web.HTTPServiceUnavailable, "the phone line is starting")
    assert raised.status == returned.status == 503
    assert raised.content_type == returned.content_type == "application/json"
    assert raised.text is not None
    assert returned.text is not None
    assert json.loads(raised.text) == json.loads(returned.text) == {"error": "the phone line is starting"}


def test_a_refusal_keeps_its_fields_and_headers() -> None:
    expired = json_refusal(web.HTTPUnauthorized, "expired", more={"expired": True}, headers={"X-A": "1"})
    assert expired.text is not None
    assert json.loads(expired.text) == {"error": "expired", "expired": True}
    assert expired.headers["X-A"] == "1"
    too_large = json_refusal(web.HTTPRequestEntityTooLarge, "too large", max_size=10, actual_size=11)
    assert too_large.status == 413
