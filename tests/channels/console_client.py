"""The staff console as a browser uses it, through a test client: signing in, and a conversation to work
on (a person writes on the web chat, a staff member claims it)."""

from __future__ import annotations

import re

from argon2 import PasswordHasher

from bots.app import WIRING
from intake.messages import Channel, Contact
from tests.channels.webchat_tab import Chat, Client

# For tests that sign in often: the hash's cost is not what they test, and the default parameters take a
# quarter of a second a hash.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


async def sign_in(client: Client, name: str, password: str) -> tuple[str, str]:
    """Through the sign-in form: the session cookie ("name=token", as the browser sends it back) and the
    CSRF token from the console page. The client's cookie jar is left empty."""
    form = {"name": name, "password": password}
    async with client.post("/staff/login", data=form, allow_redirects=False) as response:
        assert response.status == 303, await response.text()
        (morsel,) = response.cookies.values()
    client.session.cookie_jar.clear()
    cookie = f"{morsel.key}={morsel.value}"
    async with client.get("/staff", headers={"Cookie": cookie}) as page:
        found = re.search(r'<meta name="csrf-token" content="([^"]+)">', await page.text())
    client.session.cookie_jar.clear()
    assert found is not None
    return cookie, found.group(1)


async def claimed_conversation(client: Client, staff: str) -> str:
    """A person writes on the web chat and `staff` claims the conversation; returns its id."""
    assert client.app is not None
    wiring = client.app[WIRING]
    chat = await Chat(client).start()
    assert await chat.send("hei") == "accepted"
    async with wiring.db.uow() as uow:
        contact = await uow.contacts.by_pseudonym(wiring.keys.pseudonym(Contact(Channel.WEBCHAT, chat.token)))
        assert contact is not None
        conversation = await uow.conversations.open_for_contact(contact.id)
        assert conversation is not None
    await wiring.desk.claim(conversation.id, staff)
    return conversation.id
