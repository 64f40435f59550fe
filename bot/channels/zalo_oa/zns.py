"""ZNS: a pushed message the OA's chat window refused, sent as the commune's approved template
message by the member's phone number. Only where a template is set for that kind of message; each
template is checked against Zalo's own description of it before it is used."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.channels.base import NoTemplate, Pushed, Transient
from bot.channels.zalo_oa.client import ZaloOaClient, ZaloOaError
from bot.channels.zalo_oa.facts import (
    TEMPLATE_CHECK_INTERVAL,
    TRACKING_PREFIX,
    ZNS_PARAMS,
    ZNS_TEMPLATE_ENABLED,
)
from bot.channels.zalo_oa.outcomes import delivery_error
from bot.channels.zalo_oa.tokens import OaTokens, TokenUnavailable
from models.outbox import TemplateKind, template_of
from models.phones import normalize_phone
from models.tables import utcnow
from models.template_messages import TemplateFacts, template_facts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Checked:
    """A template as Zalo described it: usable or why not, and each parameter's longest value."""

    problem: str | None
    lengths: dict[str, int]
    at: datetime


def check_template(info: dict[str, Any]) -> tuple[str | None, dict[str, int]]:
    """Whether Zalo's description of a template fits chibo's parameters: the problem, or None; and
    each parameter's longest value."""
    if str(info.get("status") or "").upper() != ZNS_TEMPLATE_ENABLED:
        return f"the template's status is {info.get('status')!r}, not {ZNS_TEMPLATE_ENABLED}", {}
    params = info.get("listParams")
    if not isinstance(params, list):
        return "Zalo lists no parameters for the template", {}
    names = {str(p.get("name")) for p in params if isinstance(p, dict)}
    if names != set(ZNS_PARAMS):
        return f"the template's parameters are {sorted(names)}, chibo fills {list(ZNS_PARAMS)}", {}
    lengths = {str(p["name"]): p["maxLength"] for p in params if type(p.get("maxLength")) is int and p["maxLength"] > 0}
    return None, lengths


def zns_phone(phone: str) -> str | None:
    """A register's phone number as ZNS takes it, ``84912345678``; None when it is none."""
    normalized = normalize_phone(phone)
    return None if normalized is None else normalized.removeprefix("+")


def template_data(facts: TemplateFacts, timezone: tzinfo, lengths: Mapping[str, int]) -> dict[str, str]:
    """The parameter values, each cut to the length the template allows."""
    when = facts.at.astimezone(timezone).strftime("%H:%M %d/%m/%Y") if facts.at is not None else ""
    values = {"member_name": facts.member_name, "title": facts.title, "time": when}
    return {name: value[: lengths[name]] if name in lengths else value for name, value in values.items()}


class ZnsFallback:
    """The OA's template fallback (``bot.channels.base.TemplateFallback``)."""

    def __init__(
        self,
        client: ZaloOaClient,
        tokens: OaTokens,
        sessions: async_sessionmaker[AsyncSession],
        templates: Mapping[TemplateKind, str],
        timezone: tzinfo,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._client = client
        self._tokens = tokens
        self._sessions = sessions
        self._templates = dict(templates)
        self._timezone = timezone
        self._clock = clock
        self._checked: dict[str, _Checked] = {}

    async def send(self, pushed: Pushed) -> str:
        marked = template_of(pushed.body, pushed.notice_id)
        if marked is None:
            raise NoTemplate("not a kind of message ZNS stands in for")
        kind, subject_id = marked
        template_id = self._templates.get(kind)
        if template_id is None:
            raise NoTemplate(f"no ZNS template set for {kind.value}")
        async with self._sessions() as session:
            facts = await template_facts(session, kind, subject_id, pushed.member_id)
        phone = zns_phone(facts.phone or "") if facts is not None else None
        if facts is None or phone is None:
            raise NoTemplate("the member has no phone number in the register")
        try:
            checked = await self._check(template_id)
            if checked.problem is not None:
                raise NoTemplate(f"ZNS template {template_id} ({kind.value}): {checked.problem}")
            tracking_id = f"{TRACKING_PREFIX}{pushed.outbox_id}"
            body = {
                "phone": phone,
                "template_id": template_id,
                "template_data": template_data(facts, self._timezone, checked.lengths),
                "tracking_id": tracking_id,
            }
            data = await self._tokens.call(lambda token: self._client.send_template(token, body))
        except ZaloOaError as error:
            raise delivery_error(error) from error
        except TokenUnavailable as error:
            raise Transient(str(error)) from error
        message_id = data.get("msg_id")
        return str(message_id) if message_id else tracking_id

    async def _check(self, template_id: str) -> _Checked:
        """The template as Zalo describes it, asked again once TEMPLATE_CHECK_INTERVAL has passed
        (a template can be disabled, or fixed, meanwhile)."""
        now = self._clock()
        checked = self._checked.get(template_id)
        if checked is None or now - checked.at > TEMPLATE_CHECK_INTERVAL:
            problem: str | None
            lengths: dict[str, int]
            try:
                info = await self._tokens.call(lambda token: self._client.template_info(token, template_id))
            except ZaloOaError as error:
                if not error.refused:
                    raise  # not Zalo's answer (network, 5xx): asked again on the retry
                problem, lengths = f"Zalo does not describe it ({error})", {}
            else:
                problem, lengths = check_template(info)
            if problem is not None:
                log.error("zalo oa: ZNS template %s cannot be used: %s", template_id, problem)
            checked = self._checked[template_id] = _Checked(problem, lengths, now)
        return checked
