"""The intake conversation as a pure function: `step(state, input, context) -> StepResult`.

No I/O and no clock: the service loads the state, gives the time and whether the line is open, and stores
what comes back. Every input moves the person on; nothing here can trap anyone in a question.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from intake import content as c
from intake.categories import (
    AGE_GROUPS,
    GENDERS,
    ROLES,
    SITUATIONS,
    TOPICS,
    AgeGroup,
    InquiryKind,
    Option,
    Role,
    Topic,
)
from intake.i18n import Texts, language_name, match_language, upper
from intake.keywords import DangerKind, Keyword, KeywordTable, normalise
from intake.messages import Choice, Reply
from intake.resources import Resource, around_the_clock_groups, by_id, scheduled_for, unconfirmed_hours

SKIP = "skip"
DONE = "done"
# Out of hours, later messages are acknowledged at most this often: enough to know they arrive, never a flood.
ACK_INTERVAL = timedelta(hours=1)


class Step(StrEnum):
    NEW = "new"
    LANGUAGE = "language"
    SAFE = "safe"
    PAUSED = "paused"
    ROLE = "role"
    KIND = "kind"
    TOPICS = "topics"
    AGE = "age"
    GENDER = "gender"
    SITUATION = "situation"
    HANDED_OFF = "handed_off"


class More(StrEnum):
    """The groups of information offered after the last question instead of sending them all at once."""

    ADVICE = "more_advice"
    SERVICES = "more_services"
    ALWAYS_OPEN = "more_always_open"


MORE_LABELS = {
    More.ADVICE: c.MORE_ADVICE,
    More.SERVICES: c.MORE_SERVICES,
    More.ALWAYS_OPEN: c.MORE_ALWAYS_OPEN,
}


class Event(StrEnum):
    DANGER = "danger"  # priority up
    HANDOFF = "handoff"  # into the staff queue
    INTAKE_COMPLETE = "intake_complete"  # write the anonymous record
    DELETE = "delete"  # erase transcript and link
    STOP = "stop"  # SMS opt-out: send nothing more


@dataclass(frozen=True)
class FlowState:
    step: Step = Step.NEW
    lang: str = "nb"
    role: str | None = None
    kind: str | None = None
    topics: tuple[str, ...] = ()
    age: str | None = None
    gender: str | None = None
    situation: str | None = None
    danger: bool = False
    intake_done: bool = False
    # When a later message out of hours was last acknowledged (ISO time), so the next one waits an hour.
    left_message_ack_at: str | None = None
    # Where a "language" keyword interrupted the intake, so it can pick up again afterwards.
    resume: Step | None = None
    # The groups of information offered after the last question (More ids), in the order shown, so a button,
    # a typed number or a typed label picks the same group later.
    offered: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["topics"] = list(self.topics)
        data["offered"] = list(self.offered)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> FlowState:
        if not data:
            return cls()
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["step"] = Step(known.get("step", Step.NEW))
        if known.get("resume") is not None:
            known["resume"] = Step(known["resume"])
        known["topics"] = tuple(known.get("topics") or ())
        known["offered"] = tuple(known.get("offered") or ())
        return cls(**known)

    @property
    def under_18(self) -> bool | None:
        if self.age == AgeGroup.UNDER_18:
            return True
        return False if self.age == AgeGroup.ADULT else None


@dataclass(frozen=True)
class FlowInput:
    text: str = ""
    choice: str | None = None
    locale_hint: str | None = None
    attachments: int = 0


@dataclass(frozen=True)
class FlowContext:
    now: datetime
    is_open: bool
    next_opening: datetime | None
    timezone: ZoneInfo
    languages: tuple[str, ...]
    texts: Callable[[str], Texts]
    keywords: KeywordTable
    # SMS and WhatsApp know opt-out words; elsewhere "stop" is just text.
    opt_out: bool = False
    # Whether the line's phone is open (its general hours) while this channel may be closed.
    phone_open: bool = False
    # The channel the person writes on (an intake.messages.Channel value): what erasing can reach differs.
    channel: str | None = None


@dataclass(frozen=True)
class StepResult:
    state: FlowState
    replies: tuple[Reply, ...] = ()
    events: frozenset[Event] = field(default_factory=frozenset)


def compose(t: Texts, msgid: str, keywords: KeywordTable, **fields: str) -> str:
    """A text as the phone shows it: its neutral lead line when it has one (content.LEADS), the text, and
    its tail line (content.TAILS: 112 out of hours), each translated; the taught keywords filled in."""
    words = {
        "delete": taught(keywords, Keyword.DELETE, t.lang),
        "language": taught(keywords, Keyword.LANGUAGE, t.lang),
    }
    text = t(msgid, **{k: v for k, v in words.items() if "{" + k + "}" in msgid}, **fields)
    lead, tail = c.LEADS.get(msgid), c.TAILS.get(msgid)
    return "\n".join(part for part in (t(lead) if lead else "", text, t(tail) if tail else "") if part)


def taught(keywords: KeywordTable, keyword: Keyword, lang: str) -> str:
    """The word the bot teaches for a keyword, in the language's own capitals (Turkish SİL, not SIL)."""
    words = keywords.taught.get(keyword, {})
    return upper(words.get(lang) or words.get("en") or keyword.value, lang)


class _StaleChoice(Exception):
    """A button from an earlier menu was pressed: ask the current question again, change nothing."""


class _Turn:
    """Collects the replies and events of one step in the person's current language."""

    def __init__(self, state: FlowState, ctx: FlowContext) -> None:
        self.state = state
        self.ctx = ctx
        self.replies: list[Reply] = []
        self.events: set[Event] = set()

    @property
    def t(self) -> Texts:
        return self.ctx.texts(self.state.lang)

    def say(
        self,
        msgid: str,
        choices: tuple[Choice, ...] = (),
        multi: bool = False,
        **fields: str,
    ) -> None:
        t = self.t
        text = compose(t, msgid, self.ctx.keywords, **fields)
        if any(r.text == text for r in self.replies):
            return  # the same advice twice in one turn (a travel danger and the abroad topic)
        self.replies.append(Reply(text=text, choices=choices, multi=multi, lang=t.lang, rtl=t.rtl))

    def say_lines(self, *lines: str) -> None:
        """One reply of several texts, one per line (already translated)."""
        t = self.t
        self.replies.append(Reply(text="\n".join(lines), lang=t.lang, rtl=t.rtl))

    def menu(self, options: tuple[Option, ...], *extra: Option) -> tuple[Choice, ...]:
        return tuple(Choice(o.id, self.t(o.label)) for o in (*options, *extra))

    def result(self) -> StepResult:
        return StepResult(self.state, tuple(self.replies), frozenset(self.events))


def erase_requested(given: FlowInput, ctx: FlowContext) -> bool:
    """Whether this input is the delete word. It wins over every other rule (blocked, flooding, held by
    staff, closed, out of hours, opted out): the service asks this before anything else."""
    return given.choice is None and ctx.keywords.keyword(given.text) is Keyword.DELETE


def erase(state: FlowState, ctx: FlowContext) -> StepResult:
    """The answer to the delete word: the confirmation (marked to erase on the device too), a fresh state."""
    lang = state.lang if state.lang in ctx.languages else ctx.languages[0]
    turn = _Turn(FlowState(lang=lang), ctx)
    turn.events.add(Event.DELETE)
    turn.say(c.erased_text(ctx.channel))
    turn.replies[-1] = replace(turn.replies[-1], erase=True)
    return turn.result()


def step(state: FlowState, given: FlowInput, ctx: FlowContext) -> StepResult:
    if erase_requested(given, ctx):
        return erase(state, ctx)
    turn = _Turn(state, ctx)
    keyword = None if given.choice else ctx.keywords.keyword(given.text)

    if keyword is Keyword.STOP and ctx.opt_out:
        turn.events.add(Event.STOP)
        return turn.result()

    if state.step is Step.NEW:
        return _first_contact(turn, given)

    if given.attachments:
        turn.say(c.ATTACHMENT)

    kinds = frozenset() if given.choice else ctx.keywords.danger_kinds(given.text)
    if kinds:
        intake_done = turn.state.intake_done
        _danger(turn, kinds)
        if not intake_done:
            return turn.result()

    if keyword is Keyword.HELP:
        turn.say(c.HELP)
        _ask(turn, turn.state.step)
        return turn.result()
    if keyword is Keyword.LANGUAGE:
        resume = turn.state.step if turn.state.step is not Step.LANGUAGE else turn.state.resume
        turn.state = replace(turn.state, step=Step.LANGUAGE, resume=resume)
        _ask(turn, Step.LANGUAGE)
        return turn.result()

    choice = SKIP if keyword is Keyword.SKIP else given.choice
    try:
        _answer(turn, given.text, choice)
    except _StaleChoice:
        turn.state = state
        _ask(turn, state.step)
    return turn.result()


def _first_contact(turn: _Turn, given: FlowInput) -> StepResult:
    hint = match_language(given.locale_hint, turn.ctx.languages)
    turn.state = replace(turn.state, lang=hint or turn.ctx.languages[0], step=Step.LANGUAGE)
    t, ctx = turn.t, turn.ctx
    turn.say_lines(greeting(t, ctx))
    kinds = ctx.keywords.danger_kinds(given.text)
    if kinds:
        _danger(turn, kinds)
        return turn.result()
    if given.attachments:
        turn.say(c.ATTACHMENT)
    _ask(turn, Step.LANGUAGE)
    return turn.result()


def greeting(t: Texts, ctx: FlowContext) -> str:
    """The first reply: hello, 112, and whether anyone reads messages now (one line each)."""
    return "\n".join((*(t(msgid) for msgid in c.FIRST_REPLY), _hours_now(t, ctx)))


def _hours_now(t: Texts, ctx: FlowContext) -> str:
    """Whether anyone reads messages now, and if not, when the line opens."""
    if ctx.is_open:
        return t(c.OPEN_NOW)
    if ctx.next_opening is not None:
        return t(c.CLOSED_UNTIL, time=t.moment(ctx.next_opening, ctx.now, ctx.timezone))
    return t(c.CLOSED_NOW)


def _danger(turn: _Turn, kinds: frozenset[DangerKind]) -> None:
    """The emergency numbers at once, true to the hour: "urgent" only when someone reads it now. Before the
    intake is done a person in danger needs a human, not four more questions: the hand-off follows."""
    turn.state = replace(turn.state, danger=True)
    turn.events.add(Event.DANGER)
    turn.say(c.DANGER if turn.ctx.is_open else c.DANGER_CLOSED)
    if DangerKind.SELF_HARM in kinds:
        turn.say(c.SELF_HARM)
    if DangerKind.TRAVEL in kinds:
        turn.say(c.TOPIC_INFO[Topic.ABROAD])
    if not turn.state.intake_done:
        _hand_off_at_once(turn)
    elif not turn.ctx.is_open:
        _closed_notice(turn)


def _ask(turn: _Turn, at: Step) -> None:
    """Ask the question of step `at` (again)."""
    st = turn.state
    skip = Option(SKIP, c.SKIP)
    if at is Step.LANGUAGE:
        choices = tuple(Choice(lang, language_name(lang)) for lang in turn.ctx.languages)
        turn.say(c.ASK_LANGUAGE, choices)
    elif at is Step.SAFE:
        turn.say(
            c.ASK_SAFE, turn.menu((Option("yes", c.YES), Option("no", c.NO), Option("unsure", c.NOT_SURE)))
        )
    elif at is Step.ROLE or at is Step.PAUSED:
        turn.say(c.ASK_ROLE, turn.menu(ROLES, skip))
    elif at is Step.KIND:
        kinds = (Option(InquiryKind.INDIVIDUAL, c.CASE), Option(InquiryKind.INFORMATION, c.INFORMATION))
        turn.say(c.ASK_KIND, turn.menu(kinds, skip))
    elif at is Step.TOPICS:
        remaining = tuple(o for o in TOPICS if o.id not in st.topics)
        msgid = c.TOPIC_NOTED if st.topics else c.ASK_TOPICS
        turn.say(msgid, turn.menu(remaining, Option(DONE, c.DONE)), multi=True)
    elif at is Step.AGE:
        about_self = st.role in (None, Role.SELF)
        turn.say(c.ASK_AGE_SELF if about_self else c.ASK_AGE_OTHER, turn.menu(AGE_GROUPS, skip))
    elif at is Step.GENDER:
        about_self = st.role in (None, Role.SELF)
        turn.say(c.ASK_GENDER if about_self else c.ASK_GENDER_OTHER, turn.menu(GENDERS, skip))
    elif at is Step.SITUATION:
        turn.say(c.ASK_SITUATION, turn.menu(SITUATIONS, skip))
    elif at is Step.HANDED_OFF:
        # Asked again (after help or a language change): where the person stands, in their language.
        if st.offered:
            _where_you_stand(turn)
        elif turn.ctx.is_open:
            turn.say(c.HANDOFF_OPEN)
        else:
            _closed_notice(turn)


def _match(turn: _Turn, text: str, choice: str | None, options: tuple[Option, ...]) -> list[str] | None:
    """The option ids the person picked, by button, number ("2", or "1 3" where several are allowed),
    id or label; None when the text is not an answer (it is then kept as free text)."""
    ids = [o.id for o in options]
    if choice is not None:
        if choice not in ids:
            raise _StaleChoice(choice)
        return [choice]
    said = normalise(text)
    if not said:
        return None
    numbers = said.replace(",", " ").split()
    if all(n.isdigit() for n in numbers):
        picked = [ids[int(n) - 1] for n in numbers if 1 <= int(n) <= len(ids)]
        return picked or None
    for o in options:
        if said in (o.id, normalise(o.label), normalise(turn.t(o.label))):
            return [o.id]
    return None


def _answer(turn: _Turn, text: str, choice: str | None) -> None:
    st = turn.state
    at = st.step
    skip = Option(SKIP, c.SKIP)
    if at is Step.HANDED_OFF:
        picked = _match(turn, text, choice, _offer(st)) if st.offered else None
        if picked:
            _more(turn, tuple(More(p) for p in picked))
            return
        if not turn.ctx.is_open and _ack_due(st, turn.ctx.now):
            turn.state = replace(st, left_message_ack_at=turn.ctx.now.isoformat())
            turn.say(c.LEFT_MESSAGE)
        return
    if at is Step.PAUSED:
        turn.say(c.WELCOME_BACK)
        _go(turn, Step.ROLE)
        return
    if at is Step.LANGUAGE:
        options = tuple(Option(lang, language_name(lang)) for lang in turn.ctx.languages)
        picked = _match(turn, text, choice, (*options, skip))
        if picked and picked[0] != SKIP:
            turn.state = replace(st, lang=picked[0])
        elif picked is None:
            turn.say(c.NOTED)
        resume, turn.state = turn.state.resume, replace(turn.state, resume=None)
        _go(turn, resume or Step.SAFE)
        return
    if at is Step.SAFE:
        picked = _match(
            turn, text, choice, (Option("yes", c.YES), Option("no", c.NO), Option("unsure", c.NOT_SURE), skip)
        )
        if picked == ["no"]:
            turn.say(c.SAFE_NO)
            turn.state = replace(st, step=Step.PAUSED)
            return
        if picked == ["unsure"]:
            turn.say(c.SAFE_UNSURE)
        elif picked is None:
            turn.say(c.NOTED)
        _go(turn, Step.ROLE)
        return
    if at is Step.ROLE:
        picked = _match(turn, text, choice, (*ROLES, skip))
        role = picked[0] if picked and picked[0] != SKIP else None
        turn.state = replace(st, role=role)
        if picked is None:
            turn.say(c.NOTED)
        _go(turn, Step.KIND if role == Role.PROFESSIONAL else Step.TOPICS)
        return
    if at is Step.KIND:
        kinds = (Option(InquiryKind.INDIVIDUAL, c.CASE), Option(InquiryKind.INFORMATION, c.INFORMATION))
        picked = _match(turn, text, choice, (*kinds, skip))
        turn.state = replace(st, kind=picked[0] if picked and picked[0] != SKIP else None)
        if picked is None:
            turn.say(c.NOTED)
        _go(turn, Step.TOPICS)
        return
    if at is Step.TOPICS:
        # Numbers refer to the menu as shown: the topics not yet picked.
        remaining = tuple(o for o in TOPICS if o.id not in st.topics)
        picked = _match(turn, text, choice, (*remaining, Option(DONE, c.DONE), skip))
        if picked is None:
            turn.say(c.NOTED)
            _go(turn, Step.AGE)
            return
        topics = tuple(dict.fromkeys((*st.topics, *(p for p in picked if p not in (DONE, SKIP)))))
        turn.state = replace(st, topics=topics)
        finished = DONE in picked or SKIP in picked or len(picked) > 1 or len(topics) == len(TOPICS)
        _go(turn, Step.AGE if finished else Step.TOPICS)
        return
    if at is Step.AGE:
        picked = _match(turn, text, choice, (*AGE_GROUPS, skip))
        turn.state = replace(st, age=picked[0] if picked and picked[0] != SKIP else None)
        if picked is None:
            turn.say(c.NOTED)
        _go(turn, Step.GENDER)
        return
    if at is Step.GENDER:
        picked = _match(turn, text, choice, (*GENDERS, skip))
        turn.state = replace(st, gender=picked[0] if picked and picked[0] != SKIP else None)
        if picked is None:
            turn.say(c.NOTED)
        if turn.state.role in (None, Role.SELF):
            _go(turn, Step.SITUATION)
        else:
            _hand_off(turn)
        return
    if at is Step.SITUATION:
        picked = _match(turn, text, choice, (*SITUATIONS, skip))
        turn.state = replace(st, situation=picked[0] if picked and picked[0] != SKIP else None)
        if picked is None:
            turn.say(c.NOTED)
        _hand_off(turn)
        return
    raise ValueError(f"no step {at!r}")


def _ack_due(st: FlowState, now: datetime) -> bool:
    if st.left_message_ack_at is None:
        return True
    try:
        last = datetime.fromisoformat(st.left_message_ack_at)
    except ValueError:
        return True
    return now - last >= ACK_INTERVAL


def _go(turn: _Turn, to: Step) -> None:
    turn.state = replace(turn.state, step=to)
    _ask(turn, to)


def _hand_off(turn: _Turn) -> None:
    """After the last question: where the person stands with one line of advice, then the rest offered by
    group (two messages, not a wall of eight). The danger path does not come here: it gets everything at
    once (_hand_off_at_once)."""
    st = turn.state
    offered = [More.ADVICE] if _advice(st, turn.ctx)[1] else []
    if _service_lines(turn) or unconfirmed_hours(under_18=st.under_18):
        offered.append(More.SERVICES)
    offered.append(More.ALWAYS_OPEN)
    turn.state = replace(st, step=Step.HANDED_OFF, intake_done=True, resume=None, offered=tuple(offered))
    turn.events.update({Event.HANDOFF, Event.INTAKE_COMPLETE})
    _where_you_stand(turn)


def _offer(st: FlowState) -> tuple[Option, ...]:
    return tuple(Option(m, MORE_LABELS[More(m)]) for m in st.offered)


def _advice(st: FlowState, ctx: FlowContext) -> tuple[str, tuple[str, ...]]:
    """The one short line of advice that matters most for these answers, and the advice that fits them."""
    texts: list[str] = []
    if st.role in (None, Role.SELF):
        texts.append(c.PLAIN_MESSAGES)
    if st.role in c.ROLE_INFO:
        texts.append(c.ROLE_INFO[st.role])
    if st.under_18:
        texts.append(c.UNDER_18_INFO)
    for table, key in ((c.SITUATION_INFO, st.situation), (c.SITUATION_MORE, st.situation)):
        if key in table:
            texts.append(table[key])
    texts.extend(c.TOPIC_INFO[t] for t in st.topics if t in c.TOPIC_INFO)
    # Under 18 out of hours, the children's line that answers now matters more than anything else.
    if st.under_18 and not ctx.is_open:
        key_line = c.KEY_UNDER_18
    else:
        key_line = c.KEY_ADVICE.get(st.role or Role.SELF, "")
    return key_line, tuple(dict.fromkeys(texts))


def _where_you_stand(turn: _Turn) -> None:
    """The essentials in one message (the queue, or closed and when it opens; one line of advice; 112 out
    of hours, last so the first line stays neutral), then the offer of the rest."""
    st, ctx, t = turn.state, turn.ctx, turn.t
    lines = [t(c.HANDOFF_OPEN)]
    if not ctx.is_open:
        moment = t.moment(ctx.next_opening, ctx.now, ctx.timezone) if ctx.next_opening else None
        lines = [t(c.HANDOFF_CLOSED, time=moment) if moment else t(c.HANDOFF_CLOSED_UNKNOWN)]
        if ctx.phone_open:
            lines.append(t(c.SERVICE_OPEN, service=service_line(t, by_id("helpline"))))
    key_line = _advice(st, ctx)[0]
    if key_line:
        lines.append(t(key_line))
    if not ctx.is_open:
        lines.append(t(c.CALL_112))
    turn.say_lines(*lines)
    turn.say(c.MORE_INFO, turn.menu(_offer(st)))


def _more(turn: _Turn, groups: tuple[More, ...]) -> None:
    """The information the person asked for; out of hours its last line names 112, like every answer then."""
    st, t = turn.state, turn.t
    for group in dict.fromkeys(groups):
        if group is More.ADVICE:
            for msgid in _advice(st, turn.ctx)[1]:
                turn.say(msgid)
        elif group is More.SERVICES:
            for r in unconfirmed_hours(under_18=st.under_18):
                turn.say(c.ALSO_FOR_UNDER_18, service=service_line(t, r))
            _scheduled_services(turn)
        else:
            _around_the_clock(turn)
    if not turn.ctx.is_open and turn.replies and not any("112" in r.text for r in turn.replies):
        last = turn.replies[-1]
        turn.replies[-1] = replace(last, text=f"{last.text}\n{t(c.CALL_112)}")


def _hand_off_at_once(turn: _Turn) -> None:
    """Safety information that fits the answers, then the queue (open) or the next opening (closed): all at
    once, for a person in danger, where nothing may wait behind a button."""
    st = turn.state
    if st.role in (None, Role.SELF):
        turn.say(c.PLAIN_MESSAGES)
    if st.situation in c.SITUATION_INFO:
        turn.say(c.SITUATION_INFO[st.situation])
    if st.situation in c.SITUATION_MORE:
        turn.say(c.SITUATION_MORE[st.situation])
    for topic in st.topics:
        if topic in c.TOPIC_INFO:
            turn.say(c.TOPIC_INFO[topic])
    if st.role in c.ROLE_INFO:
        turn.say(c.ROLE_INFO[st.role])
    if st.under_18:
        turn.say(c.UNDER_18_INFO)
        for r in unconfirmed_hours(under_18=True):
            turn.say(c.ALSO_FOR_UNDER_18, service=service_line(turn.t, r))
    _scheduled_services(turn)
    turn.state = replace(st, step=Step.HANDED_OFF, intake_done=True, resume=None)
    turn.events.update({Event.HANDOFF, Event.INTAKE_COMPLETE})
    if turn.ctx.is_open:
        turn.say(c.HANDOFF_OPEN)
    else:
        _closed_notice(turn)


def _scheduled_services(turn: _Turn) -> None:
    """The services with hours of their own that fit the person, each open now or when it opens: one
    reply (one SMS), built from intake/resources.toml."""
    lines = _service_lines(turn)
    if lines:
        turn.say_lines(turn.t(c.LEAD_INFO), *lines)


def _service_lines(turn: _Turn) -> list[str]:
    st, ctx, t = turn.state, turn.ctx, turn.t
    lines = []
    for r in scheduled_for(st.role == Role.PROFESSIONAL, st.under_18):
        status = r.status(ctx.now)
        if status is None:
            continue
        if status.open:
            lines.append(t(c.SERVICE_OPEN, service=service_line(t, r)))
        elif status.next_opening is not None:
            when = t.moment(status.next_opening, ctx.now, ctx.timezone)
            lines.append(t(c.SERVICE_OPENS, service=service_line(t, r), time=when))
    return lines


def service_line(t: Texts, r: Resource) -> str:
    """A service as the person reads it: what it is, in their language, and its number (or its site)."""
    label = c.SERVICE_LABELS.get(r.id)
    return f"{t(label)} {r.contact}" if label and not r.web else r.line()


def queue_ahead_reply(lang: str, ahead: int, ctx: FlowContext) -> Reply:
    """How many people staff will answer first; the service counts them when the person joins the queue."""
    t = ctx.texts(lang)
    return Reply(text=t.plural(*c.QUEUE_AHEAD, ahead), lang=t.lang, rtl=t.rtl)


def _closed_notice(turn: _Turn) -> None:
    ctx = turn.ctx
    if ctx.next_opening is not None:
        moment = turn.t.moment(ctx.next_opening, ctx.now, ctx.timezone)
        turn.say(c.HANDOFF_CLOSED, time=moment)
    else:
        turn.say(c.HANDOFF_CLOSED_UNKNOWN)
    _around_the_clock(turn)


def _around_the_clock(turn: _Turn) -> None:
    """The services open day and night, in two messages (emergency numbers, then help lines), and the
    line's own phone when it answers while the chat is closed."""
    ctx, t = turn.ctx, turn.t
    emergency, help_lines = around_the_clock_groups(turn.state.under_18)
    turn.say(c.ALWAYS_OPEN, services=", ".join(service_line(t, r) for r in emergency))
    lines = [
        compose(t, c.ALWAYS_OPEN, ctx.keywords, services=", ".join(service_line(t, r) for r in help_lines))
    ]
    if ctx.phone_open:
        # The chat may close before the phone does (DOMAIN.md): the line's own number answers now.
        lines.append(t(c.SERVICE_OPEN, service=service_line(t, by_id("helpline"))))
    turn.say_lines(*lines)


def error_handoff(state: FlowState, ctx: FlowContext) -> StepResult:
    """What the person gets when the flow itself failed: a human takes over with what is known."""
    lang = state.lang if state.lang in ctx.languages else ctx.languages[0]
    t = ctx.texts(lang)
    reply = Reply(text=compose(t, c.ERROR_HANDOFF, ctx.keywords), lang=t.lang, rtl=t.rtl)
    new_state = replace(state, lang=lang, step=Step.HANDED_OFF, resume=None)
    return StepResult(new_state, (reply,), frozenset({Event.HANDOFF}))
