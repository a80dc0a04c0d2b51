"""Text folding shared by the whole-message keywords and the danger phrases: one spelling for the many ways
the same word is typed."""

from __future__ import annotations

import unicodedata

# Quotes people put around a word they were told to write ("write «SLETT»").
_QUOTES = "\"'«»“”„‘’‹›「」"


_ARABIC_FOLD = str.maketrans(
    {"ي": "ی", "ى": "ی", "ك": "ک", "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "\u200c": None, "\u200d": None}
    | {chr(c): None for c in range(0x064B, 0x0660)}
    | {"\u0670": None}
)


def fold(text: str) -> str:
    """Casefolded, NFKC, apostrophes unified; Turkish dotted capitals (SİL casefolds to "si̇l") and Russian ё
    (often typed as е) folded so both spellings match."""
    text = unicodedata.normalize("NFKC", text).casefold().replace("’", "'").replace("ʼ", "'")
    text = text.replace("\u0307", "").replace("ё", "е")
    # Arabic-script spellings differ by keyboard: Persian ی/ک vs Arabic ي/ك, hamza forms, vowel marks and
    # the zero-width non-joiner are often typed or not. Fold them so either spelling matches.
    return text.translate(_ARABIC_FOLD)


def normalise(text: str) -> str:
    """`fold`, with quotes and surrounding punctuation removed and spaces collapsed: a whole message as a
    keyword."""
    return " ".join(fold(text).strip(" \t\r\n.!?،؟。" + _QUOTES).split())


# Letters a keyboard may lack, folded for danger matching only (a missed word there is worse than a merged
# spelling): Latin letters without a decomposition, Arabic ة typed as ه (and the ي that NFD leaves of ئ),
# Pashto ګ typed as Persian گ, Sorani letters typed with their plain Arabic-keyboard neighbours, Urdu's
# ہ/ھ as ه, and Tigrinya's ቐ/ኸ/ፀ series typed as ቀ/ከ/ጸ.
_LOOSE_FOLD = str.maketrans(
    {"ı": "i", "ł": "l", "ø": "o", "đ": "d", "ة": "ه", "ګ": "گ", "ي": "ی"}
    | {"ە": "ه", "ڕ": "ر", "ڵ": "ل", "ێ": "ی", "ۆ": "و", "ھ": "ه", "ہ": "ه"}
    | {chr(0x1250 + i): chr(0x1240 + i) for i in range(7)}
    | {chr(0x12B8 + i): chr(0x12A8 + i) for i in range(7)}
    | {chr(0x1340 + i): chr(0x1338 + i) for i in range(7)}
)


def loose(text: str) -> str:
    """A looser fold on top of `fold` for matching danger phrases: accents dropped (people without a
    Norwegian, Turkish or Polish keyboard write "slar", "dovuyor", "zabic") and keyboard variants merged.
    Applied the same way to the phrases and to the message, so a phrase is written in its proper spelling."""
    decomposed = unicodedata.normalize("NFD", fold(text))
    bare = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return unicodedata.normalize("NFC", bare).translate(_LOOSE_FOLD)
