"""/metrics is never public (a bearer token, a separate listener, or off), and with an https public URL
every response carries HSTS."""

from __future__ import annotations

import aiohttp
import pytest

from bots.app import make_app
from intake.config import ConfigError, load_settings
from tests.conftest import TEST_SECRET_KEY
from tests.console.conftest import ALWAYS_OPEN, MakeConsole
from tests.console.test_two_processes import free_port

TOKEN = "m" * 16 + "e" * 16 + "tric"


async def test_by_default_there_is_no_metrics_route(make_console: MakeConsole) -> None:
    console = await make_console()
    assert (await console.client.get("/metrics")).status == 404


async def test_with_a_token_metrics_answer_only_the_bearer(make_console: MakeConsole) -> None:
    console = await make_console(HELPLINE_METRICS_TOKEN=TOKEN)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        refused = await console.client.get("/metrics", headers=headers)
        assert refused.status == 401
        assert refused.headers["WWW-Authenticate"] == "Bearer"
        assert "helpline_queue_length" not in await refused.text()
    answer = await console.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status == 200
    assert "helpline_queue_length" in await answer.text()


async def test_a_separate_listener_serves_metrics_and_the_public_port_does_not(
    make_console: MakeConsole,
) -> None:
    port = free_port()
    console = await make_console(HELPLINE_METRICS_LISTEN=f"127.0.0.1:{port}")
    assert (await console.client.get("/metrics")).status == 404
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as answer:
        assert answer.status == 200
        assert "helpline_queue_length" in await answer.text()
        # Only the metrics there: nothing of the service answers on that port.
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/chat") as other:
        assert other.status == 404


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HELPLINE_METRICS_TOKEN", "short"),
        ("HELPLINE_METRICS_LISTEN", "9100"),
        ("HELPLINE_METRICS_LISTEN", "0.0.0.0:http"),
        ("HELPLINE_METRICS_LISTEN", "0.0.0.0:70000"),
    ],
)
def test_a_bad_metrics_setting_is_refused_with_its_name(variable: str, value: str) -> None:
    settings = load_settings(
        {"HELPLINE_ENV": "development", "HELPLINE_CONFIG": str(ALWAYS_OPEN), variable: value}
    )
    with pytest.raises(ConfigError, match=variable):
        make_app(settings)


@pytest.mark.parametrize("path", ["/chat", "/staff/login", "/healthz", "/static/chat.css", "/nowhere"])
async def test_with_an_https_public_url_every_answer_carries_hsts(
    make_console: MakeConsole, path: str
) -> None:
    secure = await make_console(
        HELPLINE_PUBLIC_URL="https://helpline.example", HELPLINE_SECRET_KEY=TEST_SECRET_KEY
    )
    answer = await secure.client.get(path)
    assert answer.headers["Strict-Transport-Security"] == "max-age=31536000"
    # Over plain http (development) the header would mean nothing and is not sent.
    plain = await make_console()
    assert "Strict-Transport-Security" not in (await plain.client.get(path)).headers
