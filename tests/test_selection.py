"""``chatanime.selection``: the one reading of a comma list, for the CLI and the web app."""

from __future__ import annotations

from chatanime.selection import parse_names


def test_blanks_around_and_between_commas_are_dropped() -> None:
    assert parse_names(" a, b,,c ,") == ("a", "b", "c")


def test_nothing_given_is_an_empty_selection() -> None:
    assert parse_names("") == ()
    assert parse_names(" , ,") == ()


def test_names_keep_inner_spaces_and_order() -> None:
    assert parse_names("gpt-4.1, human ,漩涡 鸣人") == ("gpt-4.1", "human", "漩涡 鸣人")
