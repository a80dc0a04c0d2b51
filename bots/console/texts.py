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
    "unread": N_("unread"),
    "last_message": N_("Last message"),
    "reply_prefix": N_("Reply:"),
    "sound": N_("Sound"),
    "notify": N_("Desktop notifications"),
    "notify_message": N_("New message in one of your conversations"),
    "notify_urgent": N_("Urgent: a new conversation is waiting"),
    "confirm_close": N_("Close this conversation?"),
    "confirm_close_unread": N_("This conversation has messages you have not seen. Close it anyway?"),
    "confirm_block": N_("Block this sender for {hours} hours? They get one neutral line and nothing else."),
    "confirm_hostile": N_("Mark this contact as possibly hostile?"),
    "safety": N_("Sender and safety"),
    "shortcuts": N_("Keyboard shortcuts"),
    "key_next": N_("Open the next waiting conversation"),
    "key_claim": N_("Pick up the open conversation"),
    "key_reply": N_("Write a reply"),
    "key_close": N_("Close the open conversation (asks first)"),
    "key_help": N_("Show these shortcuts"),
    "done": N_("Done"),
    "audit": N_("Audit log"),
    "audit_time": N_("Time"),
    "audit_who": N_("Staff member"),
    "audit_action": N_("Action"),
    "audit_conversation": N_("Conversation"),
    "search": N_("Search in conversations"),
    "search_none": N_("Nothing found."),
}
# What the audit log records (the API route's name), in the console's words.
AUDIT_ACTIONS = {
    "open": N_("Opened the transcript"),
    "claim": N_("Picked up"),
    "release": N_("Put back in the queue"),
    "messages": N_("Replied"),
    "notes": N_("Wrote a note"),
    "transfer": N_("Transferred"),
    "close": N_("Closed"),
    "block": N_("Blocked the sender"),
    "flag": N_("Changed the possibly hostile mark"),
    "search": N_("Found in a search"),
}
CHANNELS = {
    "webchat": N_("Web chat"),
    "telegram": N_("Telegram"),
    "sms": N_("SMS"),
    "whatsapp": N_("WhatsApp"),
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
        "channels": {channel: page(msgid) for channel, msgid in CHANNELS.items()},
        "audit_actions": {action: page(msgid) for action, msgid in AUDIT_ACTIONS.items()},
    }
