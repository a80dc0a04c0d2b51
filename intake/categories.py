"""The categories the helpline counts (DOMAIN.md), as data with stable ids.

Ids are stored in the database and in the anonymous statistics, so they never change; labels are
message ids for the catalogs (marked with `N_` so `pybabel extract` finds them).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


def N_(msgid: str) -> str:
    """Marks a string for extraction without translating it here (the language is per conversation)."""
    return msgid


def Nn_(singular: str, plural: str) -> tuple[str, str]:
    """Marks a text with plural forms for extraction (`pybabel extract -k Nn_:1,2`); translate it with
    `Texts.plural(*text, n)`."""
    return singular, plural


@dataclass(frozen=True)
class Option:
    id: str
    label: str


class Role(StrEnum):
    """The report's "who is writing": the person, family, other network, another organisation or a
    professional; `other` is what fits none of them."""

    SELF = "self"
    FAMILY = "family"
    NETWORK = "network"
    PROFESSIONAL = "professional"
    OTHER = "other"


class Topic(StrEnum):
    SOCIAL_CONTROL = "social_control"
    FORCED_MARRIAGE = "forced_marriage"
    FGM = "fgm"
    ABROAD = "abroad"
    HONOUR_VIOLENCE = "honour_violence"
    CLOSE_VIOLENCE = "close_violence"
    VIRGINITY = "virginity"
    OTHER = "other"
    # Sub-kinds the report counts under a main topic (SUBTOPIC_OF); staff record them, the bot never asks.
    FM_PRESSURE = "forced_marriage_pressure"
    FM_KEPT = "forced_marriage_kept"
    FM_LEAVING = "forced_marriage_leaving"
    FM_RELIGIOUS_DIVORCE = "forced_marriage_religious_divorce"
    ABROAD_THREAT = "abroad_threat"


class AgeGroup(StrEnum):
    UNDER_18 = "under_18"
    ADULT = "adult"
    NOT_STATED = "not_stated"


class Gender(StrEnum):
    WOMAN = "woman"
    MAN = "man"
    # Counted apart, as the report does; recorded by staff, not offered in the bot's menu.
    TRANS = "trans"
    OTHER = "other"
    NOT_STATED = "not_stated"


class Situation(StrEnum):
    """The NAV guide's four situations, which decide the safety information a person gets."""

    NOT_NOW = "not_now"
    NEEDS_TIME = "needs_time"
    WANTS_OUT = "wants_out"
    AFTER = "after"


class InquiryKind(StrEnum):
    INDIVIDUAL = "individual"
    INFORMATION = "information"


class RecordChannel(StrEnum):
    """Where a first-time contact came from: the bot's channels, and the ones staff register by hand."""

    SMS = "sms"
    WHATSAPP = "whatsapp"
    TELEGRAM = "telegram"
    WEBCHAT = "webchat"
    PHONE = "phone"
    EMAIL = "email"
    IN_PERSON = "in_person"
    OTHER = "other"


class CaseOrigin(StrEnum):
    """Where a follow-up case came from (the report's chapter 5)."""

    SHELTER = "shelter"  # transferred from the national shelters and support homes
    HELPLINE = "helpline"  # a first-time contact of this line who wants follow-up
    ANONYMOUS = "anonymous"  # a regular without a signed consent form


class CaseStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Duty(StrEnum):
    """The duties a concern decision is about (the advisers' guide)."""

    NOTIFY_CHILD_WELFARE = "notify_child_welfare"  # opplysningsplikt/meldeplikt til barnevernet
    AVERT = "avert"  # avvergingsplikt (straffeloven § 196)


class Decision(StrEnum):
    ACTED = "acted"  # notified child welfare / warned the police
    NOT_ACTED = "not_acted"  # considered, and the duty did not apply


NOT_STATED = "not_stated"

# A sub-kind counts under its main topic too: recording one records both.
SUBTOPIC_OF: dict[str, str] = {
    Topic.FM_PRESSURE: Topic.FORCED_MARRIAGE,
    Topic.FM_KEPT: Topic.FORCED_MARRIAGE,
    Topic.FM_LEAVING: Topic.FORCED_MARRIAGE,
    Topic.FM_RELIGIOUS_DIVORCE: Topic.FORCED_MARRIAGE,
    Topic.ABROAD_THREAT: Topic.ABROAD,
}
# One bit per topic for the statistics' aggregates. Stored: a topic keeps its bit forever, new ones
# take the next free bit.
TOPIC_BITS: dict[str, int] = {topic.value: 1 << i for i, topic in enumerate(Topic)}


ROLES: tuple[Option, ...] = (
    Option(Role.SELF, N_("It is about me")),
    Option(Role.FAMILY, N_("I am family")),
    Option(Role.NETWORK, N_("I am a friend or partner")),
    Option(Role.PROFESSIONAL, N_("I ask for my work")),
    Option(Role.OTHER, N_("Other")),
)

TOPICS: tuple[Option, ...] = (
    Option(Topic.SOCIAL_CONTROL, N_("Control and strict rules")),
    Option(Topic.FORCED_MARRIAGE, N_("Marriage against my will")),
    Option(Topic.FGM, N_("Genital cutting (FGM)")),
    Option(Topic.ABROAD, N_("Being taken or left abroad")),
    Option(Topic.HONOUR_VIOLENCE, N_("Violence or threats over honour")),
    Option(Topic.CLOSE_VIOLENCE, N_("Violence at home or from a partner")),
    Option(Topic.VIRGINITY, N_("Virginity")),
    Option(Topic.OTHER, N_("Something else")),
)

AGE_GROUPS: tuple[Option, ...] = (
    Option(AgeGroup.UNDER_18, N_("Under 18")),
    Option(AgeGroup.ADULT, N_("18 or over")),
)

GENDERS: tuple[Option, ...] = (
    Option(Gender.WOMAN, N_("Woman / girl")),
    Option(Gender.MAN, N_("Man / boy")),
    Option(Gender.OTHER, N_("Other")),
)

SITUATIONS: tuple[Option, ...] = (
    Option(Situation.NOT_NOW, N_("I just want information")),
    Option(Situation.NEEDS_TIME, N_("I need someone to talk to")),
    Option(Situation.WANTS_OUT, N_("I want to get away")),
    Option(Situation.AFTER, N_("I have left, but it goes on")),
)

FOLLOW_UP_ACTIVITIES: tuple[Option, ...] = (
    Option("contact_person", N_("Phone or e-mail with the person")),
    Option("practical_help", N_("Practical help with applications")),
    Option("referral", N_("Contact or referral to other services")),
    Option("nav", N_("Contact with NAV")),
    Option("police", N_("Contact with police")),
    Option("shelter", N_("Contact with the shelters")),
    Option("expert_team", N_("Contact with the national expert team")),
    Option("child_welfare", N_("Contact with child welfare")),
    Option("external_meeting", N_("Meeting with external services")),
    Option("in_person", N_("In-person meeting")),
    Option("mail_agreement", N_("Mail agreement")),
)


def option_ids(options: tuple[Option, ...]) -> frozenset[str]:
    return frozenset(o.id for o in options)


def with_main_topics(topics: list[str] | tuple[str, ...]) -> list[str]:
    """The topics with the main topic of each sub-kind added, in the order of `Topic`, each once."""
    wanted = set(topics) | {SUBTOPIC_OF[t] for t in topics if t in SUBTOPIC_OF}
    return [t.value for t in Topic if t.value in wanted]


def topic_bits(topics: list[str] | tuple[str, ...]) -> int:
    bits = 0
    for topic in topics:
        bits |= TOPIC_BITS.get(topic, 0)
    return bits
