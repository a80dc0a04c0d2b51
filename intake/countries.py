"""Country background as ISO 3166-1 alpha-2 codes, named in Norwegian and English from babel's CLDR data."""

from __future__ import annotations

from functools import cache

from babel import Locale

# CLDR's two-letter territories that are no country: groupings, the unknown region and pseudo-regions.
_NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "QO", "ZZ", "XA", "XB"})


@cache
def country_names(lang: str) -> dict[str, str]:
    """Code -> name in `lang` ("nb" or "en"), sorted by name."""
    territories = Locale.parse(lang).territories
    names = {
        code: name
        for code, name in territories.items()
        if len(code) == 2 and code.isalpha() and code.isupper() and code not in _NOT_COUNTRIES
    }
    return dict(sorted(names.items(), key=lambda item: item[1]))


def country_codes() -> frozenset[str]:
    return frozenset(country_names("en"))


@cache
def _by_name() -> dict[str, str]:
    return {name.casefold(): code for lang in ("en", "nb") for code, name in country_names(lang).items()}


def normalise_country(value: str) -> str | None:
    """The code for what staff typed: a code ("so", " SO ") or a name in Norwegian or English
    ("Somalia"); None when it is neither."""
    typed = value.strip()
    if typed.upper() in country_codes():
        return typed.upper()
    return _by_name().get(typed.casefold())
