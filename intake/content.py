"""What the bot says. English message ids; every conversation reads them through its own language's catalog.

Texts are short on purpose: they are read on a phone, often on a lock screen, and sent as SMS. The first
line of every text is neutral, because a notification preview may be read by someone else.
"""

from __future__ import annotations

from intake.categories import N_, Nn_, Role, Situation, Topic
from intake.messages import Channel

# Neutral first lines. A lock screen shows a message's first line to whoever holds the phone, so a text that
# names violence, the police, an emergency number or erasing is sent after one of these and a line break
# (LEADS below; tests/unit/test_lock_screen.py walks every message the bot can send).
LEAD_HELLO = N_("Hi,")
LEAD_INFO = N_("Here is some information for you.")

# The first reply, one line each: a neutral hello, 112, and whether anyone reads messages now (before the
# first question, so nobody answers seven questions to learn that the line is closed).
HELLO = N_("Hi, thank you for writing.")
EMERGENCY = N_("If you are in danger right now, call 112 (police) or 113 (ambulance).")
OPEN_NOW = N_("We are open now.")
CLOSED_UNTIL = N_("We are closed now and open {time}. Nobody reads messages before then.")
CLOSED_NOW = N_("We are closed now. Nobody reads messages until we open again.")
# The second line of every answer given while the line is closed.
CALL_112 = N_("In danger: call 112.")
ASK_LANGUAGE = N_("Which language do you want to write in?")
ASK_SAFE = N_(
    "Is it safe for you to write here now? If someone may read your phone, write {delete} at any time "
    "to erase this chat."
)
SAFE_NO = N_(
    "Then stop here, and erase the chat by writing {delete}. Write again when it is safe. "
    "In danger: call 112."
)
SAFE_UNSURE = N_(
    "Be careful: messages may show on the lock screen. Write {delete} at any time to erase this chat."
)
WELCOME_BACK = N_("Welcome back.")
ASK_ROLE = N_("Who are you writing for?")
ASK_KIND = N_("Is it about a specific case, or do you want general information or a talk?")
ASK_TOPICS = N_("What is it about? Pick one or more, then choose Done.")
TOPIC_NOTED = N_("Noted. Pick more, or choose Done.")
ASK_AGE_SELF = N_("How old are you?")
ASK_AGE_OTHER = N_("How old is the person it is about?")
ASK_GENDER = N_("Are you a woman, a man or other? You can skip this.")
ASK_GENDER_OTHER = N_("Is the person a woman, a man or other? You can skip this.")
ASK_SITUATION = N_("What do you need most now?")
NOTED = N_("Thank you, the staff will read what you wrote.")
HELP = N_(
    "Write {language} to change language, or {delete} to erase this chat. Everything else you write is "
    "read by our staff. In danger: call 112 (police) or 113 (ambulance)."
)
DANGER = N_(
    "If you are in danger now, call 112 (police) or 113 (ambulance). Children and young people can call "
    "116 111 day and night. We have marked your message as urgent."
)
# A wish to die or to self-harm: the health emergency number and a line that answers day and night.
SELF_HARM = N_(
    "If you think of hurting yourself, call 113 now, or talk to Mental Helse day and night: 116 123."
)
# Out of hours "urgent" would be a false promise: nobody reads it before the opening.
DANGER_CLOSED = N_(
    "Nobody reads messages here now. If you are in danger, call 112 (police) or 113 (ambulance) now."
)
# The erase confirmation says what we deleted (our copy) and what stays on the person's device, which differs
# by channel: Twilio cannot delete an SMS or WhatsApp message on a phone; Telegram lets a bot delete messages
# of the last 48 hours; the web chat page forgets the chat in its tab, but not the browser's history.
ERASED: dict[str, str] = {
    Channel.SMS: N_(
        "We have deleted our copy of this conversation. The text messages stay on your phone: "
        "delete them yourself, this one too."
    ),
    Channel.WHATSAPP: N_(
        "We have deleted our copy of this conversation. The messages stay in WhatsApp on your phone: "
        "delete the chat there yourself, this message too."
    ),
    Channel.TELEGRAM: N_(
        "We have deleted our copy of this conversation, and from this chat "
        "the messages of the last 48 hours. Delete older messages and this one yourself, "
        "or delete the whole chat."
    ),
    Channel.WEBCHAT: N_(
        "We have deleted our copy of this conversation, and this page has removed it from this tab. "
        "Your browser history may still show this page: delete it there if someone may check."
    ),
}
# A channel not listed above: only what is certain.
ERASED_ELSEWHERE = N_(
    "We have deleted our copy of this conversation. Delete what is left on your device yourself."
)
ATTACHMENT = N_("Staff can only read text here. Please write what you wanted to show in words.")
ERROR_HANDOFF = N_(
    "Sorry, something went wrong on our side. A staff member will take over this conversation. "
    "In danger: call 112."
)

PLAIN_MESSAGES = N_(
    "Nobody deserves to be treated badly. Norwegian law forbids violence and threats. "
    "You are not alone, and help is available."
)

SITUATION_INFO: dict[str, str] = {
    Situation.NOT_NOW: N_(
        "If you need help later, dinutvei.no shows where to find it near you, and you can write to us again."
    ),
    Situation.NEEDS_TIME: N_(
        "It can help to talk with someone who helps you sort your thoughts and options, on your own terms. "
        "Family counselling (familievernkontoret) also helps families where there is violence or threats."
    ),
    Situation.WANTS_OUT: N_(
        "To get away: every police district has family-violence coordinators, and a crisis centre "
        "(krisesenter) gives a safe place day and night, for women and for men. Under 18, child welfare "
        "(barnevernet) must help you. We can also help, for example with a religious divorce."
    ),
    Situation.AFTER: N_(
        "Threats do not always stop after a break. Your doctor and health services can help with "
        "after-effects, "
        "and we can support you further."
    ),
}

TOPIC_INFO: dict[str, str] = {
    Topic.ABROAD: N_(
        "Do not travel if you fear being left abroad. From age 12 you can refuse to move abroad. "
        "Abroad, call the Foreign Ministry day and night: +47 23 95 00 00, or the nearest embassy."
    ),
    Topic.FORCED_MARRIAGE: N_(
        "Nobody can force you to marry. Forced marriage is a crime in Norway, and we can help, "
        "also if you want to leave a marriage."
    ),
    Topic.FGM: N_(
        "Genital cutting is forbidden in Norway, also when it is done abroad. Health services can help, "
        "also with after-effects."
    ),
    Topic.VIRGINITY: N_(
        "Nobody can see on the body whether someone is a virgin. "
        "Health services answer questions in confidence."
    ),
    Topic.HONOUR_VIOLENCE: N_(
        "Violence, threats or being locked in over the family's honour are crimes in Norway. The police "
        "can protect you, for example with an alarm, also if you do not report anyone."
    ),
    Topic.CLOSE_VIOLENCE: N_(
        "Violence at home or from a partner is never your fault, and it is a crime in Norway. A crisis "
        "centre (krisesenter) helps day and night, for women and for men: dinutvei.no shows the nearest."
    ),
    Topic.OTHER: N_(
        "Whatever it is, you can write about it here. dinutvei.no shows help near you for violence, "
        "threats and control of every kind."
    ),
    Topic.SOCIAL_CONTROL: N_(
        "Strict control of who you meet, what you wear or what you do can be negative social control. "
        "You have the right to make your own choices."
    ),
}

ROLE_INFO: dict[str, str] = {
    Role.FAMILY: N_(
        "Thank you for caring. Listen and believe the person, and do not confront the family: it can make "
        "things more dangerous. We can advise you."
    ),
    Role.NETWORK: N_(
        "Thank you for caring. Listen and believe the person, and do not confront the family: it can make "
        "things more dangerous. We can advise you."
    ),
    Role.PROFESSIONAL: N_(
        "Ask directly and alone, never with family as interpreter. Remember the duty to avert and to report "
        "to child welfare. Kompetanseteamet (478 09 050) advises professionals."
    ),
}

# More advice for a situation, from the advisers' guide (seeds/003): a lawyer for someone who wants to get
# away, and what violence does to children for someone who needs time.
SITUATION_MORE: dict[str, str] = {
    Situation.WANTS_OUT: N_(
        "A lawyer for victims (bistandsadvokat) can advise you on reporting, divorce, ending a marriage "
        "and compensation. We can help you find one."
    ),
    Situation.NEEDS_TIME: N_(
        "If there are children at home: violence harms children, also when they only see or hear it."
    ),
}
# A service whose hours are not confirmed is named without a word about when it answers.
ALSO_FOR_UNDER_18 = N_("Under 18, you can also talk to {service}.")
# What each help service is, in the person's language (the names and numbers live in resources.toml).
SERVICE_LABELS: dict[str, str] = {
    "police": N_("Police"),
    "ambulance": N_("Ambulance"),
    "fire": N_("Fire"),
    "police_non_emergency": N_("Police (not urgent)"),
    "alarmtelefonen": N_("Alarmtelefonen for children and young people"),
    "helpline": N_("Our phone"),
    "expert_team": N_("Kompetanseteamet (for professionals and adults)"),
    "udops": N_("Foreign Ministry, for people abroad"),
    "kors_pa_halsen": N_("Kors på halsen (under 18)"),
    "vo_linjen": N_("VO-linjen (violence and abuse, 18+)"),
    "mental_helse": N_("Mental Helse"),
}

UNDER_18_INFO = N_("Under 18? Alarmtelefonen, 116 111, answers day and night by phone, SMS and chat.")

HANDOFF_OPEN = N_("Thank you. You are in the queue, and a staff member will answer you here soon.")
HANDOFF_CLOSED = N_(
    "We are closed now and open {time}. Leave a message here, and we will answer when we open."
)
HANDOFF_CLOSED_UNKNOWN = N_("We are closed now. Leave a message here, and we will answer as soon as we can.")
ALWAYS_OPEN = N_("Open day and night: {services}.")
# After the last question only the essentials arrive (where the person stands, one line of advice); the rest
# is offered by topic so that a stressed reader on a phone is not handed a wall of text.
MORE_INFO = N_("Do you want more information about any of these?")
MORE_ADVICE = N_("Advice for you")
MORE_SERVICES = N_("Other help services")
MORE_ALWAYS_OPEN = N_("Open day and night")
# The one line of advice that comes with the essentials (short: it shares an SMS with the hours and 112).
KEY_ADVICE: dict[str, str] = {
    Role.SELF: N_("You are not alone, and help is available."),
    Role.FAMILY: N_("Listen to the person, and do not confront the family."),
    Role.NETWORK: N_("Listen to the person, and do not confront the family."),
    Role.PROFESSIONAL: N_("Talk with the person alone, never with family as interpreter."),
}
KEY_UNDER_18 = N_("Alarmtelefonen, 116 111, answers day and night.")
# Services with hours of their own (intake/resources.toml), named at the hand-off with their state now.
SERVICE_OPEN = N_("{service}: open now.")
SERVICE_OPENS = N_("{service}: opens {time}.")
QUEUE_AHEAD = Nn_("{n} person is waiting before you.", "{n} people are waiting before you.")
LEFT_MESSAGE = N_("Thank you, your message is saved. We will answer when we open.")

YES = N_("Yes")
NO = N_("No")
NOT_SURE = N_("Not sure")
SKIP = N_("Skip")
DONE = N_("Done")
CASE = N_("A specific case")
INFORMATION = N_("Information or a talk")

STAFF_JOINED = N_("A staff member is here now and reads your messages.")
# What a blocked sender gets, once: neutral, since the sender may be the person's persecutor.
BLOCKED = N_("Thank you for your message.")  # followed by CALL_112: a blocked person may be in danger too
WHATSAPP_INVITE = N_("We have answered your message. Write to us here to read the answer.")

# Canned replies staff can send in the person's language (the console offers them).
CANNED: dict[str, str] = {
    "reading": N_("Thank you for writing. I am reading your messages now."),
    "tell_more": N_("Can you tell me a little more about what is happening?"),
    "safe_now": N_("Are you safe right now?\nIf you are in danger, call 112."),
    "erase": N_("Hi,\nYou can write {delete} at any time to erase this chat."),
    "closing": N_("We are ending this chat now. You can write to us again at any time."),
}
# A flood from one sender (or a stuck phone): everything is kept, the bot waits.
SLOW_DOWN = N_("You are writing very fast. We keep every message; please wait a little for an answer.")

_HELLO_FIRST = (
    DANGER,
    DANGER_CLOSED,
    SELF_HARM,
    *ERASED.values(),
    ERASED_ELSEWHERE,
    HELP,
    SAFE_NO,
    SAFE_UNSURE,
    ASK_SAFE,
    ERROR_HANDOFF,
)
_INFO_FIRST = (
    PLAIN_MESSAGES,
    UNDER_18_INFO,
    ALWAYS_OPEN,
    *SITUATION_INFO.values(),
    *SITUATION_MORE.values(),
    ALSO_FOR_UNDER_18,
    *TOPIC_INFO.values(),
    *ROLE_INFO.values(),
)
# The neutral line each sensitive text is sent after; every other text starts neutral by itself.
LEADS: dict[str, str] = {msgid: LEAD_HELLO for msgid in _HELLO_FIRST} | {
    msgid: LEAD_INFO for msgid in _INFO_FIRST
}
# The line each text ends with: every answer given while the line is closed names 112 (on a line of its own,
# so the first line stays neutral).
TAILS: dict[str, str] = {
    msgid: CALL_112 for msgid in (HANDOFF_CLOSED, HANDOFF_CLOSED_UNKNOWN, LEFT_MESSAGE, BLOCKED, SLOW_DOWN)
}
# The first reply on every channel: these lines, the last one saying whether anyone reads messages now.
FIRST_REPLY = (HELLO, EMERGENCY)
HOURS_NOW = (OPEN_NOW, CLOSED_UNTIL, CLOSED_NOW)


def erased_text(channel: str | None) -> str:
    """The erase confirmation for a channel."""
    return ERASED.get(channel or "", ERASED_ELSEWHERE)
