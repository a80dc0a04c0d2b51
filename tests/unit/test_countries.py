"""Country background: ISO 3166 codes, named in Norwegian and English by babel."""

from __future__ import annotations

import pytest

from intake.countries import country_codes, country_names, normalise_country


def test_every_country_has_a_norwegian_and_an_english_name() -> None:
    assert country_names("nb")["NO"] == "Norge"
    assert country_names("en")["NO"] == "Norway"
    assert country_names("nb")["SO"] == "Somalia"
    assert set(country_names("nb")) == set(country_names("en")) == country_codes()
    # Groupings and the unknown region are no country background.
    assert not {"EU", "UN", "ZZ", "001"} & country_codes()


@pytest.mark.parametrize(
    ("typed", "code"),
    [("IQ", "IQ"), (" iq ", "IQ"), ("Irak", "IQ"), ("Iraq", "IQ"), ("somalia", "SO"), ("Atlantis", None),
     ("EU", None), ("Nor\x00way", None), ("\ud800", None), ("", None)],
)  # fmt: skip
def test_staff_may_type_a_code_or_a_name(typed: str, code: str | None) -> None:
    assert normalise_country(typed) == code
