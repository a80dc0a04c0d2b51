"""SMS segments: the GSM-7 / UCS-2 counter, and a segment budget for every text of every shipped catalog.

SMS has no buttons and every segment is a separate SMS on the person's phone (and a separate charge), so
the intake's texts are kept to a few segments in every language. One character outside GSM-7 makes the
whole text UCS-2 (67 units per segment instead of 153): Arabic, Persian, Urdu, Pashto, Kurdish, Tigrinya,
Russian, Ukrainian, and Polish or Turkish letters such as ł, ś, ı, ş all do.

The budgets, in segments, for the text as sent (placeholders filled with their longest real value):

| what                                                              | GSM-7 | UCS-2 |
|-------------------------------------------------------------------|-------|-------|
| a menu label (one line of a numbered menu)                        | 1     | 1     |
| a question, with its menu rendered as the numbered list SMS gets  | 2     | 3     |
| the language question, listing every shipped language             | 3     | 3     |
| another short bot message (greeting, notices, hand-off)           | 2     | 2     |
| safety information, the danger and help texts, the first reply,   | 3     | 4     |
| and every answer out of hours (they end with a 112 line), and the |       |       |
| erase confirmations (what stays on the phone)                     |       |       |
| anything else in a catalog (web chat page, staff-side texts)      | 4     | 4     |

Why a question gets one segment more in UCS-2 (and only a question): its numbered menu is a fixed cost no
translation can shorten. The topic menu has nine lines, and each costs its number, a space and a line break
(27 units in all) before a word of a label is written. Two split UCS-2 segments hold 2 x 67 = 134 units:
less the 27 and a one-line question of ~45 characters, nine labels would get ~7 characters each, too few to
name "forced marriage" or "genital cutting" in any language. Three hold 3 x 67 = 201 units: ~14 characters
a label, a label of one to three words. That is still fewer characters than the 2 x 153 = 306 septets a
GSM-7 language gets for the same question, so it asks no more of English or Norwegian and no less of the
others (short labels everywhere). Texts without a menu keep one budget whatever their script: a long one is
shortened. The language question is UCS-2 in every language (it names each language in its own script).

Why safety texts get one UCS-2 segment more: since a lock screen shows a message's first line, every safety
text is sent after a neutral first line ("Here is some information for you.", intake/content.py LEADS), and
every answer out of hours ends with a line naming 112 (TAILS). That line costs 20 to 40 units in Arabic,
Persian, Urdu, Pashto, Kurdish, Tigrinya, Russian or Ukrainian, a fixed cost like a question's menu, which
pushed the longest safety texts from three to four UCS-2 segments. Four hold 4 x 67 = 268 units, still fewer
than the 3 x 153 = 459 septets a GSM-7 language gets for the same text; the texts themselves were not made
longer. The first reply joins hello, 112 and the hours in one SMS and is measured as a safety text.

When a test here fails after a text or translation changed: shorten the text (in that language) rather
than raise a budget. A raised budget is the lead's decision, made for a kind of text and written in the
table above with its reason, never as an exemption for one text or one language.
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from babel.messages.pofile import read_po

from intake import content as c
from intake import sms
from intake.categories import (
    AGE_GROUPS,
    GENDERS,
    ROLES,
    SITUATIONS,
    TOPICS,
    InquiryKind,
    Option,
)
from intake.flow import (
    DONE,
    MORE_LABELS,
    SKIP,
    FlowContext,
    FlowInput,
    FlowState,
    compose,
    service_line,
    step,
)
from intake.i18n import DOMAIN, Catalogs, Texts, compile_catalogs, default_locales_dir, language_name
from intake.keywords import Keyword, default_table
from intake.messages import Choice, Reply
from intake.resources import all_resources, around_the_clock_groups

LOCALES = default_locales_dir()
# Discovered, not listed: every language someone ships is measured.
LANGUAGES = tuple(sorted(p.parent.parent.name for p in LOCALES.glob(f"*/LC_MESSAGES/{DOMAIN}.po")))
OSLO = ZoneInfo("Europe/Oslo")
KEYWORDS = default_table()

LABEL, LANGUAGE_MENU, NOTICE, ANY = 1, 3, 2, 4
# A question with its numbered menu, by the encoding the whole SMS goes in (see the table above).
QUESTION = {sms.Encoding.GSM7: 2, sms.Encoding.UCS2: 3}
# A safety text after its neutral first line (or before its 112 line), likewise by encoding.
SAFETY = {sms.Encoding.GSM7: 3, sms.Encoding.UCS2: 4}

_skip = Option(SKIP, c.SKIP)
_done = Option(DONE, c.DONE)
# Each question with the menu the flow sends with it (intake/flow.py `STEPS`); the topic question after one
# pick lists the seven topics left, so the longest follow-up is measured.
QUESTIONS: dict[str, tuple[Option, ...]] = {
    c.ASK_SAFE: (Option("yes", c.YES), Option("no", c.NO), Option("unsure", c.NOT_SURE)),
    c.ASK_ROLE: (*ROLES, _skip),
    c.ASK_KIND: (
        Option(InquiryKind.INDIVIDUAL, c.CASE),
        Option(InquiryKind.INFORMATION, c.INFORMATION),
        _skip,
    ),
    c.ASK_TOPICS: (*TOPICS, _done),
    c.TOPIC_NOTED: (*TOPICS[1:], _done),
    c.ASK_AGE_SELF: (*AGE_GROUPS, _skip),
    c.ASK_AGE_OTHER: (*AGE_GROUPS, _skip),
    c.ASK_GENDER: (*GENDERS, _skip),
    c.ASK_GENDER_OTHER: (*GENDERS, _skip),
    c.ASK_SITUATION: (*SITUATIONS, _skip),
    # After the last question: the rest of the information, offered by group (intake/flow.py `_offer`).
    c.MORE_INFO: tuple(Option(m, label) for m, label in MORE_LABELS.items()),
}
LABELS = frozenset(
    o.label for group in (ROLES, TOPICS, AGE_GROUPS, GENDERS, SITUATIONS, *QUESTIONS.values()) for o in group
)
SAFETY_TEXTS = frozenset(
    {
        c.PLAIN_MESSAGES,
        c.UNDER_18_INFO,
        c.DANGER,
        c.HELP,
        c.ALWAYS_OPEN,
        *c.SITUATION_INFO.values(),
        *c.TOPIC_INFO.values(),
        *c.ROLE_INFO.values(),
        *c.TAILS,
        c.DANGER_CLOSED,
        c.SELF_HARM,
        c.ALSO_FOR_UNDER_18,
        *c.SITUATION_MORE.values(),
        # What stays on the person's phone after erasing is safety information too.
        *c.ERASED.values(),
        c.ERASED_ELSEWHERE,
    }
)
# Every other text of intake/content.py is something the bot sends: a short message.
BOT_TEXTS = frozenset(
    v if isinstance(v, str) else v[0]  # a text with plural forms is measured under its singular
    for k, v in vars(c).items()
    if k.isupper() and (isinstance(v, str) or (isinstance(v, tuple) and len(v) == 2))
)


def budget(msgid: str, encoding: sms.Encoding) -> int:
    if msgid == c.ASK_LANGUAGE:
        return LANGUAGE_MENU
    if msgid in QUESTIONS:
        return QUESTION[encoding]
    if msgid in LABELS:
        return LABEL
    if msgid in SAFETY_TEXTS:
        return SAFETY[encoding]
    if msgid in BOT_TEXTS:
        return NOTICE
    return ANY


def _longest(values: Iterator[str]) -> str:
    return max(values, key=lambda v: (sms.encoding(v) is sms.Encoding.UCS2, sms.units(v)))


def placeholder_values(t: Texts) -> dict[str, str]:
    """The longest value the flow fills into each placeholder, in this language."""
    now = datetime(2026, 11, 24, 17, 0, tzinfo=OSLO)
    moments = (
        t.moment(now + timedelta(days=days, hours=hours), now, OSLO)
        for days in (0, 1, 2, 3, 4, 5, 8, 20, 40)
        for hours in range(0, 24, 3)
    )
    return {
        "delete": KEYWORDS.word(Keyword.DELETE, t.lang),
        "language": KEYWORDS.word(Keyword.LANGUAGE, t.lang),
        "time": _longest(moments),
        "services": _longest(
            ", ".join(service_line(t, r) for r in group) for group in around_the_clock_groups(None)
        ),
        "service": _longest(service_line(t, r) for r in all_resources()),
    }


def fill(text: str, values: dict[str, str]) -> str:
    # An unknown placeholder (a text added later) is measured with a 10-character value.
    names = {f for _, f, _, _ in string.Formatter().parse(text) if f}
    return text.format(**{name: values.get(name, "0" * 10) for name in names})


@dataclass(frozen=True)
class Measured:
    msgid: str
    text: str
    info: sms.SegmentInfo
    budget: int


@pytest.fixture(scope="module")
def catalogs() -> Catalogs:
    compile_catalogs(LOCALES)
    return Catalogs(LOCALES, LANGUAGES)


def msgids(lang: str) -> list[str | tuple[str, ...]]:
    with (LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as f:
        catalog = read_po(f, locale=lang)
    return [tuple(m.id) if isinstance(m.id, list | tuple) else m.id for m in catalog if m.id]


def measure_language(catalogs: Catalogs, lang: str) -> list[Measured]:
    """Every text of the language's catalog as SMS sends it: translated (or the English fallback), its
    placeholders filled, and a question's menu appended as the numbered list."""
    t = catalogs.texts(lang)
    assert t.lang == lang
    values = placeholder_values(t)
    measured = []
    for msgid in msgids(lang):
        if isinstance(msgid, tuple):
            texts = [t.translations.ngettext(msgid[0], msgid[-1], n) for n in (1, 2, 5, 21)]
            key = msgid[0]
        else:
            texts, key = [t.translations.gettext(msgid)], msgid
        for raw in texts:
            # As the phone gets it: after its neutral lead line, before its tail line (flow.compose).
            lead, tail = c.LEADS.get(key), c.TAILS.get(key)
            raw = "\n".join(p for p in (t(lead) if lead else "", raw, t(tail) if tail else "") if p)
            text = fill(raw, {**values, "n": "21"})
            if key == c.ASK_LANGUAGE:
                choices = tuple(Choice(lang, language_name(lang)) for lang in LANGUAGES)
                text = sms.render(Reply(text=text, choices=choices))
            elif key in QUESTIONS:
                choices = tuple(Choice(o.id, t(o.label)) for o in QUESTIONS[key])
                text = sms.render(Reply(text=text, choices=choices))
            info = sms.measure(text)
            measured.append(Measured(key, text, info, budget(key, info.encoding)))
    # The first reply is one SMS of three lines: hello, 112, and the longest of the hours lines. It names the
    # emergency numbers and the hours, so it has the safety texts' budget.
    hours = _longest(fill(t(msgid), values) for msgid in c.HOURS_NOW)
    text = "\n".join((*(t(msgid) for msgid in c.FIRST_REPLY), hours))
    info = sms.measure(text)
    measured.append(Measured(c.HELLO, text, info, SAFETY[info.encoding]))
    return measured


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_catalog_text_keeps_its_segment_budget(catalogs: Catalogs, lang: str) -> None:
    measured = measure_language(catalogs, lang)
    assert len(measured) >= len(BOT_TEXTS), "the catalog lacks the bot's texts"
    over = [
        f"{m.info.segments} segments > {m.budget} ({m.info.encoding}, {m.info.units} units): {m.msgid[:70]!r}"
        for m in measured
        if m.info.segments > m.budget
    ]
    assert not over, f"locales/{lang}: texts over their SMS segment budget:\n" + "\n".join(over)


def test_the_budgets_cover_every_question_the_flow_asks(catalogs: Catalogs) -> None:
    """Walk the intake by typed numbers: every reply with a menu must be one of QUESTIONS (or the language
    question), rendered exactly as measured above."""
    t = catalogs.texts("en")
    ctx = FlowContext(
        now=datetime(2026, 11, 24, 10, 0, tzinfo=OSLO),
        is_open=True,
        next_opening=None,
        timezone=OSLO,
        languages=("nb", "en"),
        texts=catalogs.texts,
        keywords=KEYWORDS,
        opt_out=True,
    )
    known = {compose(t, msgid, KEYWORDS): msgid for msgid in (*QUESTIONS, c.ASK_LANGUAGE)}
    seen: set[str] = set()
    for answers in (
        ["hi", "2", "3", "1", "1", "2", "7", "1", "1", "3"],  # self, unsure; topics one by one, then Done
        ["hi", "2", "1", "4", "1", "1 2", "2", "2"],  # a professional; several topics at once
        ["hi", "2", "1", "2", "9", "1", "1"],  # family; no topic, just Done
    ):
        state = FlowState()
        for answer in answers:
            result = step(state, FlowInput(text=answer, locale_hint="en"), ctx)
            state = result.state
            for reply in result.replies:
                if not reply.choices:
                    continue
                assert reply.text in known, f"a question without a budget: {reply.text!r}"
                msgid = known[reply.text]
                seen.add(msgid)
                if msgid in QUESTIONS:
                    measured = {t(o.label) for o in QUESTIONS[msgid]}
                    assert {ch.label for ch in reply.choices} <= measured, msgid
    assert seen == {*QUESTIONS, c.ASK_LANGUAGE}


def test_report_worst_cases(catalogs: Catalogs, capsys: pytest.CaptureFixture[str]) -> None:
    """Prints the longest text per language (run with -s to read it); fails only if nothing is measured."""
    lines = []
    for lang in LANGUAGES:
        measured = [m for m in measure_language(catalogs, lang) if m.msgid != c.ASK_LANGUAGE]
        worst = sorted(measured, key=lambda m: (m.info.segments, m.info.units), reverse=True)[:2]
        lines.append(
            f"{lang:6} "
            + " | ".join(
                f"{m.info.segments}/{m.budget} seg {m.info.encoding} {m.info.units:3}: {m.msgid[:32]!r}"
                for m in worst
            )
        )
    menu = next(m for m in measure_language(catalogs, "en") if m.msgid == c.ASK_LANGUAGE)
    lines.append(
        f"language menu with all {len(LANGUAGES)} languages: {menu.info.segments} seg, {menu.info.units}"
    )
    assert len(lines) == len(LANGUAGES) + 1 >= 3
    with capsys.disabled():
        print("\nlongest SMS text per language:\n" + "\n".join(lines))


def test_the_question_budgets_follow_the_arithmetic_of_the_table() -> None:
    """One UCS-2 segment more buys back room for the menu, not more text than GSM-7 gets."""
    gsm7, ucs2 = sms.Encoding.GSM7, sms.Encoding.UCS2
    room = {e: QUESTION[e] * sms.MULTI[e] for e in (gsm7, ucs2)}
    assert room == {gsm7: 306, ucs2: 201}
    assert room[ucs2] < room[gsm7]
    # The longest menu (the topics and Done), its "N " and line breaks, and a one-line question of 45
    # characters do not fit one UCS-2 segment fewer, even with labels of 8 characters.
    lines = len(QUESTIONS[c.ASK_TOPICS])
    assert lines == 9
    assert (QUESTION[ucs2] - 1) * sms.MULTI[ucs2] < 45 + lines * (3 + 8)


# The counter itself.


def test_norwegian_letters_stay_gsm7() -> None:
    text = "Hei! Du kan skrive SLETT når som helst. Æ Ø Å æ ø å."
    assert sms.encoding(text) is sms.Encoding.GSM7
    assert sms.measure(text) == sms.SegmentInfo(sms.Encoding.GSM7, len(text), 1)


@pytest.mark.parametrize("odd", ["😀", "ا", "ł", "ı", "Ж", "ç"])
def test_one_non_gsm_character_makes_the_whole_text_ucs2(odd: str) -> None:
    text = "a" * 69 + odd
    info = sms.measure(text)
    assert info.encoding is sms.Encoding.UCS2
    assert info.units == 69 + len(odd.encode("utf-16-le")) // 2
    assert sms.measure("a" * 160).segments == 1
    assert info.segments == (1 if info.units <= 70 else 2)


def test_emoji_count_as_two_utf16_units() -> None:
    assert sms.units("😀") == 2
    assert sms.measure("😀" * 35).segments == 1
    assert sms.measure("😀" * 36).segments == 2


def test_extension_characters_count_twice() -> None:
    assert sms.encoding("{}[]~|^\\€") is sms.Encoding.GSM7
    assert sms.units("€") == 2
    assert sms.measure("€" * 80).segments == 1
    assert sms.measure("€" * 80 + "a").segments == 2


def test_gsm7_single_and_split_sizes() -> None:
    assert [sms.segments("a" * n) for n in (0, 1, 160, 161, 306, 307, 459, 460)] == [0, 1, 1, 2, 2, 3, 3, 4]


def test_ucs2_single_and_split_sizes() -> None:
    assert [sms.segments("ب" * n) for n in (1, 70, 71, 134, 135, 201, 202)] == [1, 1, 2, 2, 3, 3, 4]


def test_a_segment_never_splits_an_escape_or_surrogate_pair() -> None:
    # 152 + 2 + 152 = 306 septets would fit two segments of 153, but the euro cannot straddle them.
    assert sms.segments("a" * 152 + "€" + "a" * 152) == 3
    assert sms.segments("a" * 151 + "€" + "a" * 153) == 2
    assert sms.segments("ب" * 66 + "😀" + "ب" * 66) == 3
    assert sms.segments("ب" * 65 + "😀" + "ب" * 67) == 2


def test_a_menu_is_a_numbered_list_one_line_each() -> None:
    reply = Reply(text="Who?", choices=(Choice("self", "Me"), Choice("skip", "Skip")))
    assert sms.render(reply) == "Who?\n1 Me\n2 Skip"
    assert sms.render(Reply(text="Plain")) == "Plain"
