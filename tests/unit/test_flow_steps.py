"""The flow's table of steps (intake/flow.py `STEPS`) is complete: every step that can be asked is declared,
every answer a menu offers leads to a declared step, and the menu shown is the one the table declares."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from intake.categories import TOPICS, Role
from intake.flow import SKIP, STEPS, FlowContext, FlowInput, FlowState, More, Step, step

Ctx = Callable[..., FlowContext]
# NEW is the first message, answered by the greeting and never asked.
ASKED = tuple(s for s in Step if s is not Step.NEW)


def test_every_step_that_is_asked_has_an_entry() -> None:
    assert set(STEPS) == set(ASKED)


def _states() -> Iterator[FlowState]:
    """Each step in the states that change its menu or where it moves on."""
    for at in ASKED:
        for role in (None, Role.SELF, Role.FAMILY, Role.PROFESSIONAL):
            for topics in ((), (TOPICS[0].id,), tuple(o.id for o in TOPICS[1:])):
                for offered in ((), tuple(More)):
                    yield FlowState(step=at, lang="en", role=role, topics=topics, offered=offered)


@pytest.mark.parametrize("is_open", [True, False])
def test_every_answer_leads_to_a_declared_step_asked_with_its_declared_menu(
    make_ctx: Ctx, is_open: bool
) -> None:
    ctx = make_ctx(is_open=is_open)
    for state in _states():
        menu = [o.id for o in STEPS[state.step].menu(state, ctx)]
        # Each option, skip, free text, a number, and the keywords that ask again (this step, the language).
        typed = (FlowInput(text) for text in ("free text", "1", "help", "language"))
        for given in (*(FlowInput(choice=i) for i in (*menu, SKIP)), *typed):
            result = step(state, given, ctx)
            to = result.state.step
            assert to in STEPS, (state, given)
            if STEPS[to].question:  # then it was asked last, with the menu its entry declares
                shown = [ch.id for ch in result.replies[-1].choices]
                assert shown == [o.id for o in STEPS[to].menu(result.state, ctx)], (state, given)
