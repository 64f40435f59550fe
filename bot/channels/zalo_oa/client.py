"""The HTTP client for the calls chibo makes to Zalo: send a message, upload a file, refresh the
tokens, and ZNS's template info and template send."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from bot.channels.zalo_oa.facts import (
    ACCESS_TOKEN_HEADER,
    APP_SECRET_HEADER,
    HTTP_TIMEOUT_SECONDS,
    OFFICIAL_API_BASE,
    OFFICIAL_OAUTH_BASE,
    OFFICIAL_ZNS_API_BASE,
    REFRESH_PATH,
    SEND_PATH,
    UPLOAD_TIMEOUT_SECONDS,
    ZNS_SEND_PATH,
    ZNS_TEMPLATE_INFO_PATH,
)


class ZaloOaError(Exception):
    """A call to Zalo that did not succeed. ``code`` is Zalo's error code, else the HTTP status;
    None when no answer came (network). ``http_status`` is set when the answer was not Zalo's
    (a 5xx, a 429, a proxy's page)."""

    def __init__(self, call: str, code: int | None, message: str, *, http_status: int | None = None) -> None:
        super().__init__(f"{call}: {'network' if code is None else code} {message}".strip())
        self.call = call
        self.code = code
        self.message = message
        self.http_status = http_status

    @property
    def refused(self) -> bool:
        """Zalo answered with an error of its own (not a network, server or rate-limit failure)."""
        return self.code is not None and self.http_status is None


@dataclass(frozen=True)
class Grant:
    """What a refresh returns."""

    access_token: str
    refresh_token: str
    expires_in: timedelta


class ZaloOaClient:
    """A small typed client for the calls chibo makes to the OA API, Zalo OAuth and ZNS."""

    def __init__(
        self,
        api_base: str = OFFICIAL_API_BASE,
        oauth_base: str = OFFICIAL_OAUTH_BASE,
        zns_base: str = OFFICIAL_ZNS_API_BASE,
        *,
        timeout: float = HTTP_TIMEOUT_SECONDS,
    ) -> None:
        self._api = httpx.AsyncClient(base_url=api_base.rstrip("/") + "/", timeout=timeout)
        self._oauth = httpx.AsyncClient(base_url=oauth_base.rstrip("/") + "/", timeout=timeout)
        self._zns = httpx.AsyncClient(base_url=zns_base.rstrip("/") + "/", timeout=timeout)

    async def send_message(self, access_token: str, body: dict[str, Any]) -> dict[str, Any]:
        """The ``data`` of a successful send, or ZaloOaError."""
        answer = await self._post(self._api, "send", SEND_PATH, json=body, headers={ACCESS_TOKEN_HEADER: access_token})
        return _data("send", answer)

    async def upload(self, access_token: str, path: str, filename: str, content: bytes) -> dict[str, Any]:
        """The ``data`` of a successful upload (a file's token, a photo's attachment id), or ZaloOaError."""
        answer = await self._post(
            self._api,
            "upload",
            path,
            files={"file": (filename, content)},
            headers={ACCESS_TOKEN_HEADER: access_token},
            timeout=UPLOAD_TIMEOUT_SECONDS,
        )
        return _data("upload", answer)

    async def template_info(self, access_token: str, template_id: str) -> dict[str, Any]:
        """What Zalo says of a ZNS template (its status, its parameters), or ZaloOaError."""
        try:
            response = await self._zns.get(
                ZNS_TEMPLATE_INFO_PATH, params={"template_id": template_id}, headers={ACCESS_TOKEN_HEADER: access_token}
            )
        except httpx.HTTPError as error:
            raise ZaloOaError("template_info", None, f"{type(error).__name__}: {error}") from None
        return _data("template_info", _envelope("template_info", response))

    async def send_template(self, access_token: str, body: dict[str, Any]) -> dict[str, Any]:
        """The ``data`` of a successful ZNS send, or ZaloOaError."""
        answer = await self._post(
            self._zns, "zns", ZNS_SEND_PATH, json=body, headers={ACCESS_TOKEN_HEADER: access_token}
        )
        return _data("zns", answer)

    async def refresh(self, app_id: str, app_secret: str, refresh_token: str) -> Grant:
        """New tokens for ``refresh_token``, or ZaloOaError."""
        form = {"app_id": app_id, "grant_type": "refresh_token", "refresh_token": refresh_token}
        answer = await self._post(
            self._oauth, "refresh", REFRESH_PATH, data=form, headers={APP_SECRET_HEADER: app_secret}
        )
        access, refresh, expires_in = answer.get("access_token"), answer.get("refresh_token"), answer.get("expires_in")
        # expires_in comes as a number or as a string of digits.
        seconds = (
            int(expires_in)
            if type(expires_in) is int
            or (isinstance(expires_in, str) and expires_in.isascii() and expires_in.isdigit())
            else 0
        )
        if isinstance(access, str) and access and isinstance(refresh, str) and refresh and seconds > 0:
            return Grant(access, refresh, timedelta(seconds=seconds))
        error = answer.get("error")
        detail = answer.get("error_description") or answer.get("error_name") or answer.get("message") or ""
        # An answer without tokens is a refusal even when it carries no code.
        raise ZaloOaError("refresh", error if type(error) is int and error != 0 else 0, str(detail))

    async def _post(self, http: httpx.AsyncClient, call: str, path: str, **request: Any) -> dict[str, Any]:
        try:
            response = await http.post(path, **request)
        except httpx.HTTPError as error:
            # The request (with its token header) stays out of the chain.
            raise ZaloOaError(call, None, f"{type(error).__name__}: {error}") from None
        return _envelope(call, response)

    async def aclose(self) -> None:
        await self._api.aclose()
        await self._oauth.aclose()
        await self._zns.aclose()


def _envelope(call: str, response: httpx.Response) -> dict[str, Any]:
    """Zalo's answer, or ZaloOaError when it is not one (a 5xx, a 429, a proxy's page)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code >= 500 or response.status_code == 429 or not isinstance(body, dict):
        raise ZaloOaError(call, response.status_code, "unexpected answer", http_status=response.status_code)
    return body


def _data(call: str, answer: dict[str, Any]) -> dict[str, Any]:
    """The ``data`` of an ``{error: 0, data}`` answer, or ZaloOaError with Zalo's code."""
    error = answer.get("error")
    if error != 0:
        code = error if type(error) is int else None
        raise ZaloOaError(call, code, str(answer.get("message") or ""))
    data = answer.get("data")
    return data if isinstance(data, dict) else {}
