"""The enqueue body is validated by the model that documents it (EnqueueBody, /openapi.json).

Whatever the endpoint refuses, the documented model refuses by itself, with
the same field and error: there is no second validator to drift from the
schema. What it accepts is stored as sent, with a server timestamp when none
was sent.
"""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from capo_worker.web.enqueue_request import (
    EnqueueBody,
    InvalidEnqueueRequest,
    parse_enqueue_request,
)

GOOD = {"triggeredBy": "post-match", "requestId": "r-1", "matchId": 57}

REFUSED = [
    ({"requestId": "r"}, "triggeredBy", "triggeredBy and requestId are required"),
    ({**GOOD, "triggeredBy": "Admin"}, "triggeredBy", "Must be one of"),
    ({**GOOD, "requestId": 7}, "requestId", "must be a string"),
    ({**GOOD, "requestId": "r" * 201}, "requestId", "longer than 200"),
    ({**GOOD, "matchId": "57"}, "matchId", "must be an integer"),
    ({**GOOD, "matchId": 2**31}, "matchId", "out of range"),
    ({**GOOD, "userId": 5}, "userId", "must be a string"),
    ({**GOOD, "retryOf": "job-1"}, "retryOf", "not a job id"),
    ({**GOOD, "timestamp": "2026-02-30T10:00:00Z"}, "timestamp", "ISO-8601"),
    ({**GOOD, "tenantId": 5}, "tenantId", "tenant name or id"),
    ({**GOOD, "note": "a\x00b"}, "note", "NUL"),
    ({**GOOD, "n": float("inf")}, "n", "finite"),
    ({**GOOD, "note": "n" * 600, "pad": "p" * 700}, "pad", "1024 bytes"),
]


@pytest.mark.parametrize(("body", "field", "says"), REFUSED, ids=[c[1] for c in REFUSED])
def test_the_documented_model_refuses_what_the_endpoint_refuses(
    body: dict[str, object], field: str, says: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        EnqueueBody.model_validate(body)
    context = refused.value.errors()[0].get("ctx") or {}
    assert context.get("field") == field and says in str(context.get("error"))
    with pytest.raises(InvalidEnqueueRequest) as answered:
        parse_enqueue_request(json.dumps(body).replace("Infinity", "1e999").encode())
    assert answered.value.field == field and says in answered.value.error


def test_a_good_body_is_stored_as_sent_with_a_server_timestamp() -> None:
    sent = {**GOOD, "matchId": 57.0, "ours": {"a": [1, 2]}}
    request = parse_enqueue_request(json.dumps(sent).encode(), now=lambda: "NOW")
    assert request.payload == {**sent, "timestamp": "NOW"}
    assert (request.trigger, request.request_id, request.tenant) == ("post-match", "r-1", None)


def test_the_schema_names_every_field_and_its_limits() -> None:
    schema = EnqueueBody.model_json_schema()
    assert schema["required"] == ["triggeredBy", "requestId"]
    props = schema["properties"]
    assert props["triggeredBy"]["enum"] == ["post-match", "admin", "cron"]
    assert props["requestId"]["maxLength"] == 200
    match_id = props["matchId"]["anyOf"][0]
    assert (match_id["minimum"], match_id["maximum"]) == (1, 2**31 - 1)
    assert {"retryOf", "timestamp", "tenantId", "userId"} <= set(props)
