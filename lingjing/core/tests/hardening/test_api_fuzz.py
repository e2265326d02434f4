"""API fuzzing with schemathesis over the published OpenAPI schema (``/api/v1/openapi.json``), called in-process
through the WSGI application (keeping the test's database connection, so it runs on SQLite and PostgreSQL alike)
with a seeded member's Bearer token.

Every operation gets generated requests (valid and invalid); for each answer: never a 5xx, status code, content
type, headers and body as the schema documents them, and a request the schema calls invalid is refused (4xx).
Smoke size by default (one example per operation); ``SCHEMATHESIS_MAX_EXAMPLES=10`` or more for the long mode
(docs/testing.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from lingjing.api import api
from lingjing.wsgi import application

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "1"))
LONG = MAX_EXAMPLES > 5

# Operations that would end the seeded session mid-run (the token is the fuzzer's identity).
TOKEN_ENDING = {("POST", "/api/v1/auth/logout")}
# Findings reported and awaiting their owners' fix, as (METHOD, path); each is still exercised for server errors.
# None open (docs/testing.md, fixed findings).
KNOWN_SCHEMA_FINDINGS: set[tuple[str, str]] = set()


def keeping_the_test_connection(app: Callable[..., Iterable[bytes]]) -> Callable[..., list[bytes]]:
    """The WSGI application as ``django.test.Client`` calls it: the request cycle does not close the database
    connection. Django closes "old" connections on ``request_started`` and ``request_finished``; inside a test's
    transaction that hands a pooled PostgreSQL connection back to the pool, and the next query fails with
    "Cannot open a new connection in an atomic block". The answer is read and closed (which sends
    ``request_finished``) while the handler is disconnected, as the test client's ``closing_iterator_wrapper`` does.
    """

    def call(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            answer = app(environ, start_response)
            try:
                body = b"".join(answer)
            finally:
                close = getattr(answer, "close", None)
                if close is not None:
                    close()
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)
        return [body]

    return call


loaded = schemathesis.openapi.from_dict(api.get_openapi_schema())
loaded.app = keeping_the_test_connection(application)
schema = loaded.exclude(func=lambda ctx: (ctx.operation.method.upper(), ctx.operation.path) in TOKEN_ENDING)
# The coverage phase (every boundary value of every parameter) is the long mode's; smoke runs only fuzz.
schema.config.phases.coverage.enabled = LONG

# What a request must never break. Business validation refusing a schema-valid body (ST202) and public
# endpoints answering without a token (ST401) are the product working as designed, not findings.
# A request the schema calls invalid must be refused with a 4xx (ST201: a string body once created a work).
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection]


@pytest.fixture
def fuzz_headers(db: Any, settings: Any) -> dict[str, str]:
    from lingjing.core.tests.hardening.world import member, token_for

    settings.LINGJING_RATE_LIMIT_ENABLED = False
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "hardening-fuzz"}}
    user = member("模糊测试")
    # identity: the in-process WSGI transport does not undo GZipMiddleware's compression
    return {"Authorization": f"Bearer {token_for(user)}", "Accept-Encoding": "identity"}


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=MAX_EXAMPLES <= 5, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_server_error_and_answers_conform_to_the_schema(case: Any, fuzz_headers: dict[str, str]) -> None:
    known = (case.operation.method.upper(), case.operation.path) in KNOWN_SCHEMA_FINDINGS
    case.call_and_validate(headers=fuzz_headers, checks=[not_a_server_error] if known else CHECKS)
