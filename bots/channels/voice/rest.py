"""Twilio's REST API for the phone line: fetch and delete a recording, place a call-back."""

from __future__ import annotations

import asyncio

import aiohttp
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from bots.channels.voice.settings import VoiceSettings

# The SDK has no timeout of its own (STACK_NOTES); a recording of 3 minutes is about 3 MB.
TIMEOUT = 30.0


class TwilioVoiceApi:
    """Opened inside the running loop (`open`), closed with the channel."""

    def __init__(self, settings: VoiceSettings) -> None:
        self.settings = settings
        self._http: AsyncTwilioHttpClient | None = None
        self._session: aiohttp.ClientSession | None = None
        self._client: Client | None = None

    def open(self) -> None:
        self._http = AsyncTwilioHttpClient()
        client = Client(self.settings.account_sid, self.settings.auth_token, http_client=self._http)
        client.edge = client.region = None
        client.api.base_url = self.settings.api_url
        self._client = client
        auth = aiohttp.encode_basic_auth(self.settings.account_sid, self.settings.auth_token)
        self._session = aiohttp.ClientSession(
            headers={"Authorization": auth}, timeout=aiohttp.ClientTimeout(total=TIMEOUT)
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._http is not None:
            await self._http.close()
        self._session = self._http = self._client = None

    @property
    def client(self) -> Client:
        if self._client is None:
            raise RuntimeError("the phone line's Twilio client is not open")
        return self._client

    def _recording_url(self, sid: str) -> str:
        return f"{self.settings.api_url}/2010-04-01/Accounts/{self.settings.account_sid}/Recordings/{sid}"

    async def download(self, recording_sid: str) -> tuple[bytes, str]:
        """The recording's audio (MP3) and content type; raises on any failure."""
        if self._session is None:
            raise RuntimeError("the phone line's Twilio client is not open")
        async with self._session.get(self._recording_url(recording_sid) + ".mp3") as response:
            response.raise_for_status()
            return await response.read(), response.content_type or "audio/mpeg"

    async def delete(self, recording_sid: str) -> bool:
        async with asyncio.timeout(TIMEOUT):
            return bool(await self.client.api.v2010.account.recordings(recording_sid).delete_async())

    async def call(self, to: str, twiml: str) -> str:
        """Calls `to` from the line's number; once answered, Twilio follows `twiml`. Returns the CallSid."""
        async with asyncio.timeout(TIMEOUT):
            call = await self.client.api.v2010.account.calls.create_async(
                to=to, from_=self.settings.number, twiml=twiml
            )
        return str(call.sid)
