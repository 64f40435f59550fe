"""Schemathesis against the app's own OpenAPI schema (served for this test only: it is off in
production), over a running server: generated valid and invalid requests to every operation get no
5xx, invalid ones are refused, and every answer matches what the schema says of its content type,
headers and body. A few examples per operation keep it well under a minute."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
)

from tests.chat import visitor
from tests.conftest import TELEGRAM_TOKEN, Demo, LiveServer, make_settings, serve_app
from tests.fake_telegram import FakeTelegram
from webhooks.app import create_app

EXAMPLES = 8  # per operation and mode
# Invalid data must be refused: Schemathesis' usual refusals, and 413, the body limit read while a body
# streams in (a text over its length in characters is over its bytes too, and is refused first).
REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]
CONFIG = SchemathesisConfig.from_dict({"checks": {"negative_data_rejection": {"expected-statuses": REFUSALS}}})
CHECKS = [
    not_a_server_error,
    negative_data_rejection,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
async def documented(database_url: str, fake_telegram: FakeTelegram) -> AsyncIterator[LiveServer]:
    settings = make_settings(
        database_url,
        api_docs=True,
        telegram_token=TELEGRAM_TOKEN,
        telegram_api_base=fake_telegram.url,
        telegram_mode="webhook",
        public_url="https://chibo.example.org",
        webhook_secret="webhook-secret-123",
        webchat_wait_seconds=0.1,  # a generated GET /api/webchat/inbox?wait=true answers at once
    )
    async for live in serve_app(create_app(settings, migrate=False)):
        yield live


def _run_schemathesis(url: str, tokens: dict[str, str]) -> list[str]:
    """Every operation, valid and invalid requests, as a stranger's and as a member's session;
    what failed (Schemathesis drives a synchronous client: it runs in a worker thread)."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json", config=CONFIG)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert {"/api/webchat/messages", "/api/webchat/session", "/api/webchat/upload"} <= {op.path for op in operations}
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case: Case[Any]) -> None:
                for token in tokens.values():
                    case.call_and_validate(base_url=url, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

            try:
                check()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing to send wrong: no parameters, no body
            except Exception as failure:
                failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}): {failure}")
    return failures


async def test_the_api_holds_to_its_schema_and_never_answers_5xx(documented: LiveServer, demo: Demo) -> None:
    async with httpx.AsyncClient(base_url=documented.url) as client:
        stranger = await visitor(client)
        member = await visitor(client)
        await member.replies(text=demo.code("Mai Văn Sơn"))
    tokens = {"stranger": stranger.token, "member": member.token}
    failures = await asyncio.to_thread(_run_schemathesis, documented.url, tokens)
    assert failures == [], "\n\n".join(failures)
