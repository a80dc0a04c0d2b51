"""Who may read /metrics. The figures (queue length, longest wait, traffic per channel) tell an outsider
when the line is busy and whether anyone is waiting, so they are never public:

- `HELPLINE_METRICS_TOKEN` set: `GET /metrics` on the service's port answers only with
  `Authorization: Bearer <token>`;
- `HELPLINE_METRICS_LISTEN=host:port` set: a second listener serves only `/metrics`, for a scraper on an
  internal network (the token, when set, is required there too);
- neither (the default): there is no /metrics (404).
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiohttp import web

from bots.http.errors import json_refusal
from intake.config import ConfigError

MIN_TOKEN = 32
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class MetricsAccess:
    token: str | None
    listen: tuple[str, int] | None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> MetricsAccess:
        token = env.get("HELPLINE_METRICS_TOKEN", "") or None
        if token is not None and (len(token) < MIN_TOKEN or not token.isascii() or not token.isprintable()):
            raise ConfigError(
                f"HELPLINE_METRICS_TOKEN must be at least {MIN_TOKEN} printable ASCII characters"
            )
        listen = None
        value = env.get("HELPLINE_METRICS_LISTEN", "").strip()
        if value:
            host, _, port = value.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ConfigError(
                    f"HELPLINE_METRICS_LISTEN must be host:port (e.g. 0.0.0.0:9100), not {value!r}"
                )
            listen = (host.strip("[]"), int(port))
        return cls(token, listen)

    def allows(self, request: web.Request) -> bool:
        if self.token is None:
            return True
        sent = request.headers.get("Authorization", "")
        # surrogateescape: a header's undecodable bytes arrive as surrogates, which plain encode() refuses.
        expected = f"Bearer {self.token}".encode()
        return hmac.compare_digest(sent.encode("utf-8", "surrogateescape"), expected)

    def guard(self, handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            if not self.allows(request):
                raise json_refusal(
                    web.HTTPUnauthorized,
                    "a bearer token is required",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            return await handler(request)

        return guarded

    def add_to(self, app: web.Application, handler: Handler) -> None:
        """On the service's own port only with a token; on the separate listener in any case. The handler
        must not read `request.app`: on the listener that is not the service's application."""
        if self.token is not None:
            app.router.add_get("/metrics", self.guard(handler))
        if self.listen is not None:
            app.cleanup_ctx.append(self._listener(handler))

    def _listener(self, handler: Handler) -> Callable[[web.Application], AsyncIterator[None]]:
        assert self.listen is not None
        host, port = self.listen
        guarded = self.guard(handler)

        async def listening(_app: web.Application) -> AsyncIterator[None]:
            side = web.Application()
            side.router.add_get("/metrics", guarded)
            runner = web.AppRunner(side, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, host, port).start()
            try:
                yield
            finally:
                await runner.cleanup()

        return listening
