"""python-telegram-bot's HTTP layer on aiohttp instead of httpx.

PTB lets the transport be swapped (`BaseRequest`); everything above it (methods, parsing, errors such as
RetryAfter) stays PTB's. Measured in the benchmark: with ~50 replies in flight, httpx/httpcore's connection
pool spent more CPU per send than the rest of the send, and the service already runs on aiohttp, whose
client keeps one pool for all of them. One session per request object, created inside the running loop at
`initialize()` and closed at `shutdown()`. `post_json` is the same session without PTB above it, for the
calls the outbox makes on every reply (api.py).
"""

from __future__ import annotations

import asyncio

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

# PTB's own defaults for HTTPXRequest.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 5.0
WRITE_TIMEOUT = 5.0
MEDIA_WRITE_TIMEOUT = 20.0
JSON_HEADERS = {"Content-Type": "application/json"}


def _value(given: object, default: float | None) -> float | None:
    """A timeout PTB passed (None: no limit), or ours when it passed `BaseRequest.DEFAULT_NONE`, its public
    marker for "not given" (PTB's own type for it is private: `object` accepts it and keeps the override
    compatible)."""
    if given is None or (isinstance(given, int | float) and not isinstance(given, bool)):
        return given
    return default


class AiohttpRequest(BaseRequest):
    def __init__(self, pool_size: int = 256, read_timeout: float | None = READ_TIMEOUT) -> None:
        self._pool_size = pool_size
        self._read_timeout = read_timeout
        self._session: aiohttp.ClientSession | None = None
        total = None if read_timeout is None else CONNECT_TIMEOUT + read_timeout + WRITE_TIMEOUT
        self._json_timeout = aiohttp.ClientTimeout(
            total=total, connect=CONNECT_TIMEOUT, sock_read=read_timeout
        )

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=self._pool_size)
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": self.USER_AGENT}
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._live()
        files = request_data.multipart_data if request_data is not None else None
        fields = request_data.json_parameters if request_data is not None else {}
        data: aiohttp.FormData | dict[str, str] = fields
        if files:
            form = aiohttp.FormData()
            for name, value in fields.items():
                form.add_field(name, value)
            for name, (filename, content, mime) in files.items():
                form.add_field(name, content, filename=filename, content_type=mime)
            data = form
        # aiohttp has no separate write timeout: the connect and read limits bound a request, and the
        # whole of it may take no longer than all three together.
        connect = _value(connect_timeout, CONNECT_TIMEOUT)
        read = _value(read_timeout, self._read_timeout)
        write = _value(write_timeout, MEDIA_WRITE_TIMEOUT if files else WRITE_TIMEOUT)
        parts = [t for t in (connect, read, write) if t is not None]
        total = sum(parts) if len(parts) == 3 else None
        timeout = aiohttp.ClientTimeout(total=total, connect=connect, sock_read=read)
        return await _request(session, method, url, data, timeout)

    async def post_json(self, url: str, body: bytes) -> tuple[int, bytes]:
        """POST a JSON body on this session with PTB's default timeouts: the status and the raw answer;
        TimedOut or NetworkError as PTB's own requests raise them."""
        return await _request(self._live(), "POST", url, body, self._json_timeout)

    def _live(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            raise RuntimeError("this AiohttpRequest is not initialized")
        return self._session


async def _request(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    data: aiohttp.FormData | dict[str, str] | bytes,
    limits: aiohttp.ClientTimeout,
) -> tuple[int, bytes]:
    headers = JSON_HEADERS if isinstance(data, bytes) else None
    try:
        async with session.request(method, url, data=data, timeout=limits, headers=headers) as response:
            return response.status, await response.read()
    except TimeoutError as exc:
        raise TimedOut from exc
    except (aiohttp.ClientError, asyncio.IncompleteReadError) as exc:
        raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc
