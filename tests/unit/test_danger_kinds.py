"""The kinds of danger a message signals: each kind gets its own advice, so the kind must be right."""

from intake.keywords import DangerKind, default_table


def test_each_kind_is_told_apart_and_a_message_can_carry_several() -> None:
    table = default_table()
    assert table.danger_kinds("we fly tomorrow") == {DangerKind.TRAVEL}
    assert table.danger_kinds("I think about suicide") == {DangerKind.SELF_HARM}
    assert table.danger_kinds("he will kill me, we go to the airport") == {
        DangerKind.ACUTE,
        DangerKind.TRAVEL,
    }
    assert table.danger_kinds("hello, I have a question") == frozenset()


def test_is_danger_is_true_exactly_when_some_kind_is_found() -> None:
    table = default_table()
    for text in [
        "we fly tomorrow",
        "I think about suicide",
        "they beat me",
        "hello",
        "a question about school",
    ]:
        assert table.is_danger(text) == bool(table.danger_kinds(text))
