"""The console's own texts (Norwegian and English staff), and the labels it shows for the categories."""

from __future__ import annotations

from typing import Any

from intake.categories import AGE_GROUPS, GENDERS, N_, ROLES, TOPICS
from intake.content import CASE, INFORMATION
from intake.i18n import Texts, language_name

PAGE = {
    "title": N_("Staff console"),
    "sign_in": N_("Sign in"),
    "sign_out": N_("Sign out"),
    "name": N_("Name"),
    "password": N_("Password"),
    "wrong": N_("Wrong name or password."),
    "too_many": N_("Too many attempts. Wait a few minutes and try again."),
    "queue": N_("Waiting"),
    "mine": N_("My conversations"),
    "empty_queue": N_("Nobody is waiting."),
    "claim": N_("Pick up"),
    "release": N_("Back to queue"),
    "transfer": N_("Transfer to"),
    "close": N_("Close"),
    "reply": N_("Reply"),
    "send": N_("Send"),
    "note": N_("Internal note"),
    "add_note": N_("Add note"),
    "canned": N_("Canned replies"),
    "danger": N_("Acute danger"),
    "under18": N_("Under 18"),
    "outside_hours": N_("Left outside hours"),
    "waiting": N_("Waiting"),
    "minutes": N_("min"),
    "returning": N_("Has written before"),
    "earlier": N_("Earlier conversations"),
    "block": N_("Block sender"),
    "block_hours": N_("Hours"),
    "hostile": N_("Possibly hostile"),
    "held": N_("Held: the WhatsApp window has closed"),
    "failed": N_("Not delivered"),
    "delivered": N_("Delivered"),
    "sent": N_("Sent"),
    "pending": N_("Sending"),
    "country": N_("Country background"),
    "follow_up": N_("Follow-up case"),
    "role": N_("Who is writing"),
    "topics": N_("Topics"),
    "age_group": N_("Age group"),
    "gender": N_("Gender"),
    "kind": N_("Kind of inquiry"),
    "not_stated": N_("Not stated"),
    "select": N_("Select a conversation."),
    "line_closed": N_("The line counts as closed: nobody is signed in."),
    "error": N_("Something went wrong. Try again."),
    "new_arrival": N_("New conversation"),
    "person": N_("Person"),
    "bot": N_("Bot"),
    "staff": N_("Staff"),
    "system": N_("System"),
    "register": N_("Register a contact"),
    "cases": N_("Follow-up cases"),
    "statistics": N_("Statistics"),
    "flood": N_("Flood"),
    "flood_count": N_("Possible flood: {count} open conversations from one source"),
    "clear_flood": N_("Close them all"),
    "clear_flood_confirm": N_("Close all {count} conversations from this source? Nothing is sent to them."),
}


def labels(page: Texts, t: Texts, languages: tuple[str, ...]) -> dict[str, Any]:
    """The console's texts (`page`, the "console" domain) and the category labels (`t`, the same words the
    person saw), in the staff member's language, for the page's data block."""
    return {
        "text": {key: page(msgid) for key, msgid in PAGE.items()},
        "roles": {o.id: t(o.label) for o in ROLES},
        "topics": {o.id: t(o.label) for o in TOPICS},
        "age_groups": {o.id: t(o.label) for o in AGE_GROUPS},
        "genders": {o.id: t(o.label) for o in GENDERS},
        "kinds": {"individual": t(CASE), "information": t(INFORMATION)},
        "languages": {lang: language_name(lang) for lang in languages},
        "channels": {"webchat": "Web chat", "telegram": "Telegram", "sms": "SMS", "whatsapp": "WhatsApp"},
    }
