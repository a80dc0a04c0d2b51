"""SMS as the network sees it: GSM-7 or UCS-2 encoding, segment counts, and menus as numbered lists.

Pure functions, no I/O. A text that fits the GSM 03.38 alphabet (basic table plus the extension table,
whose characters take an escape septet and so count twice) goes as GSM-7: 160 septets in one SMS, 153
per segment once it is split (the rest of each segment is the concatenation header). One character
outside that alphabet makes the whole text UCS-2: 70 UTF-16 code units in one SMS, 67 per segment when
split; a character outside the Basic Multilingual Plane (most emoji) is two code units. A segment never
splits an escape pair or a surrogate pair, so a split text can need one segment more than a plain
division says. Æ Ø Å are GSM-7; Arabic, Persian, Urdu, Cyrillic, Ge'ez and Polish ł are not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from intake.messages import Choice, Reply

# GSM 03.38 basic character set (the escape 0x1B is left out: it only introduces the extension table).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each of these is sent as escape + character, two septets.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")


class Encoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


# Units in a text sent as one SMS, and per segment of a split (concatenated) one.
SINGLE = {Encoding.GSM7: 160, Encoding.UCS2: 70}
MULTI = {Encoding.GSM7: 153, Encoding.UCS2: 67}


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def encoding(text: str) -> Encoding:
    return Encoding.GSM7 if is_gsm7(text) else Encoding.UCS2


def _unit_sizes(text: str, enc: Encoding) -> list[int]:
    """The size of each character in its encoding's units (septets or UTF-16 code units)."""
    if enc is Encoding.GSM7:
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def units(text: str) -> int:
    """Septets (GSM-7) or UTF-16 code units (UCS-2) the text takes."""
    return sum(_unit_sizes(text, encoding(text)))


@dataclass(frozen=True)
class SegmentInfo:
    encoding: Encoding
    units: int
    segments: int


def measure(text: str) -> SegmentInfo:
    enc = encoding(text)
    sizes = _unit_sizes(text, enc)
    total = sum(sizes)
    if total <= SINGLE[enc]:
        return SegmentInfo(enc, total, 1 if text else 0)
    # Fill segments greedily; a character's units never straddle two segments.
    limit, count, used = MULTI[enc], 1, 0
    for size in sizes:
        if used + size > limit:
            count, used = count + 1, 0
        used += size
    return SegmentInfo(enc, total, count)


def segments(text: str) -> int:
    """How many SMS the text is sent as (0 for an empty text)."""
    return measure(text).segments


def numbered_menu(choices: Sequence[Choice]) -> str:
    """A menu for a channel without buttons: "1 Label" per line; the flow matches a typed number."""
    return "\n".join(f"{number} {choice.label}" for number, choice in enumerate(choices, start=1))


def render(reply: Reply) -> str:
    """The text of a reply as one SMS (or WhatsApp) message: the text, then its menu as a numbered list."""
    if not reply.choices:
        return reply.text
    menu = numbered_menu(reply.choices)
    return f"{reply.text}\n{menu}" if reply.text else menu
