"""The intake conversation as a pure function: `step(state, input, context) -> StepResult`.

No I/O and no clock: the service loads the state, gives the time and whether the line is open, and stores
what comes back. Every input moves the person on; nothing here can trap anyone in a question.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal
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

    def say(self, msgid: str, choices: tuple[Choice, ...] = (), multi: bool = False, **fields: str) -> None:
        t = self.t
        text = compose(t, msgid, self.ctx.keywords, **fields)
        if any(r.text == text for r in self.replies):
            return  # the same advice twice in one turn (a travel danger and the abroad topic)
        self.replies.append(Reply(text=text, choices=choices, multi=multi, lang=t.lang, rtl=t.rtl))

    def say_lines(self, *lines: str) -> None:
        """One reply of several texts, one per line (already translated)."""
        t = self.t
        self.replies.append(Reply(text="\n".join(lines), lang=t.lang, rtl=t.rtl))

    def menu(self, options: tuple[Option, ...]) -> tuple[Choice, ...]:
        return tuple(Choice(o.id, self.t(o.label)) for o in options)

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


Picked = list[str] | None  # the option ids a message picked; None when it is free text
Answered = Literal["role", "kind", "age", "gender", "situation"]  # the FlowState fields a question fills

SKIPPING = Option(SKIP, c.SKIP)


@dataclass(frozen=True)
class StepSpec:
    """One step, declared once (as a ConversationHandler state): the menu it offers, in the order shown and
    numbered (() when any message just moves on; or how the answers so far make it), how it is asked, the
    state field the picked option is kept in, and the step an answer moves on to (None: `then` has dealt
    with it). A question also takes "skip" where its menu has no button for it (typed, or the number after
    the last) and notes free text; after the hand-off a message is for staff."""

    options: tuple[Option, ...] | Callable[[FlowState, FlowContext], tuple[Option, ...]]
    ask: Callable[[_Turn, tuple[Option, ...]], None]
    then: Callable[[_Turn, Picked], Step | None]
    keeps: Answered | None = None
    question: bool = True

    def menu(self, st: FlowState, ctx: FlowContext) -> tuple[Option, ...]:
        return self.options(st, ctx) if callable(self.options) else self.options


def _ask(turn: _Turn, at: Step) -> None:
    """Ask the question of step `at` (again)."""
    spec = STEPS[at]
    spec.ask(turn, spec.menu(turn.state, turn.ctx))


def _answer(turn: _Turn, text: str, choice: str | None) -> None:
    spec = STEPS[turn.state.step]
    options = spec.menu(turn.state, turn.ctx)
    if spec.question and SKIPPING not in options:
        options = (*options, SKIPPING)
    picked = _match(turn, text, choice, options) if options else None
    if picked is None and spec.question:
        turn.say(c.NOTED)
    if spec.keeps:
        answer: dict[str, Any] = {spec.keeps: _first(picked)}  # mypy cannot follow a field chosen by name
        turn.state = replace(turn.state, **answer)
    to = spec.then(turn, picked)
    if to is not None:
        _go(turn, to)


def _match(turn: _Turn, text: str, choice: str | None, options: tuple[Option, ...]) -> Picked:
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


def _go(turn: _Turn, to: Step) -> None:
    """Move on to step `to` and ask it; from the questions, moving on to HANDED_OFF is the hand-off."""
    if to is Step.HANDED_OFF:
        _hand_off(turn)
    else:
        turn.state = replace(turn.state, step=to)
        _ask(turn, to)


def _asks(
    prompt: str | Callable[[FlowState], str], multi: bool = False
) -> Callable[[_Turn, tuple[Option, ...]], None]:
    """Asks the prompt (a msgid, or one chosen by the answers so far) with the options as its menu."""
    return lambda turn, options: turn.say(
        prompt if isinstance(prompt, str) else prompt(turn.state), turn.menu(options), multi=multi
    )


def _first(picked: Picked) -> str | None:
    """The picked option to keep; None when skipped or written freely."""
    return picked[0] if picked and picked[0] != SKIP else None


def _about_self(st: FlowState) -> bool:
    return st.role in (None, Role.SELF)


def _language_picked(turn: _Turn, picked: Picked) -> None:
    st = turn.state
    # Back where the "language" keyword interrupted (asked again, even after the hand-off), or on to the
    # first question.
    to = st.resume or Step.SAFE
    turn.state = replace(st, lang=_first(picked) or st.lang, resume=None, step=to)
    _ask(turn, to)


def _safe_answered(turn: _Turn, picked: Picked) -> Step | None:
    if picked == ["no"]:
        # Not safe to write now: nothing is asked; whatever the next message says resumes (PAUSED).
        turn.say(c.SAFE_NO)
        turn.state = replace(turn.state, step=Step.PAUSED)
        return None
    if picked == ["unsure"]:
        turn.say(c.SAFE_UNSURE)
    return Step.ROLE


def _welcome_back(turn: _Turn, picked: Picked) -> Step:
    turn.say(c.WELCOME_BACK)
    return Step.ROLE


def _topics_picked(turn: _Turn, picked: Picked) -> Step:
    # Free text ends the topics like "done" (it is kept for staff as written).
    picked = picked or [DONE]
    st = turn.state
    topics = tuple(dict.fromkeys((*st.topics, *(p for p in picked if p not in (DONE, SKIP)))))
    turn.state = replace(st, topics=topics)
    # One button at a time adds topics until "done"; several typed at once ("1 3") are the whole answer.
    finished = DONE in picked or SKIP in picked or len(picked) > 1 or len(topics) == len(TOPICS)
    return Step.AGE if finished else Step.TOPICS


def _after_hand_off(turn: _Turn, picked: Picked) -> None:
    """A group of information asked for; anything else is for staff, acknowledged out of hours (hourly)."""
    st, ctx = turn.state, turn.ctx
    if picked:
        _more(turn, tuple(More(p) for p in picked))
    elif not ctx.is_open and _ack_due(st, ctx.now):
        turn.state = replace(st, left_message_ack_at=ctx.now.isoformat())
        turn.say(c.LEFT_MESSAGE)


def _ack_due(st: FlowState, now: datetime) -> bool:
    try:
        return now - datetime.fromisoformat(st.left_message_ack_at or "") >= ACK_INTERVAL
    except ValueError:  # never acknowledged (or unreadable): acknowledge now
        return True


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
    _ask(turn, Step.HANDED_OFF)


def _offer(st: FlowState) -> tuple[Option, ...]:
    return tuple(Option(m, MORE_LABELS[More(m)]) for m in st.offered)


def _advice(st: FlowState, ctx: FlowContext) -> tuple[str, tuple[str, ...]]:
    """The one short line of advice that matters most for these answers, and the advice that fits them."""
    texts: list[str] = []
    if _about_self(st):
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


def _where_you_stand(turn: _Turn, offered: tuple[Option, ...]) -> None:
    """The essentials in one message (the queue, or closed and when it opens; one line of advice; 112 out
    of hours, last so the first line stays neutral), then the offer of the rest. Nothing is offered after
    the danger path's hand-off (it gave everything at once) or a flow error: only the queue or the opening."""
    st, ctx, t = turn.state, turn.ctx, turn.t
    if not offered:
        if ctx.is_open:
            turn.say(c.HANDOFF_OPEN)
        else:
            _closed_notice(turn)
        return
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
    turn.say(c.MORE_INFO, turn.menu(offered))


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
    if _about_self(st):
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
    _ask(turn, Step.HANDED_OFF)


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


_SAFE = (Option("yes", c.YES), Option("no", c.NO), Option("unsure", c.NOT_SURE))
_KINDS = (Option(InquiryKind.INDIVIDUAL, c.CASE), Option(InquiryKind.INFORMATION, c.INFORMATION), SKIPPING)

# Every step but NEW (the first message is answered by _first_contact, never asked). At the end of the
# module: it names the functions above.
STEPS: dict[Step, StepSpec] = {
    Step.LANGUAGE: StepSpec(
        lambda st, ctx: tuple(Option(lang, language_name(lang)) for lang in ctx.languages),
        # Each language in its own name, untranslated.
        lambda turn, langs: turn.say(c.ASK_LANGUAGE, tuple(Choice(o.id, o.label) for o in langs)),
        _language_picked,
    ),
    Step.SAFE: StepSpec(_SAFE, _asks(c.ASK_SAFE), _safe_answered),
    # Asked again, it asks the role: the question the person comes back to.
    Step.PAUSED: StepSpec((), lambda turn, _: _ask(turn, Step.ROLE), _welcome_back, question=False),
    Step.ROLE: StepSpec(
        (*ROLES, SKIPPING),
        _asks(c.ASK_ROLE),
        lambda turn, _: Step.KIND if turn.state.role == Role.PROFESSIONAL else Step.TOPICS,
        keeps="role",
    ),
    Step.KIND: StepSpec(_KINDS, _asks(c.ASK_KIND), lambda *_: Step.TOPICS, keeps="kind"),
    Step.TOPICS: StepSpec(
        # Numbers refer to the menu as shown: the topics not yet picked.
        lambda st, ctx: (*(o for o in TOPICS if o.id not in st.topics), Option(DONE, c.DONE)),
        _asks(lambda st: c.TOPIC_NOTED if st.topics else c.ASK_TOPICS, multi=True),
        _topics_picked,
    ),
    Step.AGE: StepSpec(
        (*AGE_GROUPS, SKIPPING),
        _asks(lambda st: c.ASK_AGE_SELF if _about_self(st) else c.ASK_AGE_OTHER),
        lambda *_: Step.GENDER,
        keeps="age",
    ),
    Step.GENDER: StepSpec(
        (*GENDERS, SKIPPING),
        _asks(lambda st: c.ASK_GENDER if _about_self(st) else c.ASK_GENDER_OTHER),
        lambda turn, _: Step.SITUATION if _about_self(turn.state) else Step.HANDED_OFF,
        keeps="gender",
    ),
    Step.SITUATION: StepSpec(
        (*SITUATIONS, SKIPPING), _asks(c.ASK_SITUATION), lambda *_: Step.HANDED_OFF, keeps="situation"
    ),
    Step.HANDED_OFF: StepSpec(lambda st, ctx: _offer(st), _where_you_stand, _after_hand_off, question=False),
}
