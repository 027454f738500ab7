"""
What an SMS costs: its encoding and segments.

SMS encoding follows GSM 03.38 / 3GPP TS 23.038 as carriers count it:

- **GSM-7** when every character is in the GSM 7-bit default alphabet or its
  extension table. A basic character is one septet; an extension character
  (``^ { } [ ] ~ | \\ €`` and form feed) is two (an escape plus the character).
  One segment holds 160 septets; a message longer than that is split into
  segments of 153 septets (7 go to the concatenation header), and an escape
  pair is never split across two segments.
- **UCS-2** as soon as one character is outside that set (curly quotes, emoji,
  most accented letters such as ``á í ó ú``). One segment holds 70 UTF-16 code
  units; longer messages are split into segments of 67, and a surrogate pair
  (an emoji, for instance) is never split.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7 = "GSM-7"
UCS2 = "UCS-2"

# The GSM 03.38 default alphabet, in table order (0x1B, the escape, is left out).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each character costs an escape septet too.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE_SEGMENT = 160
GSM7_MULTI_SEGMENT = 153
UCS2_SINGLE_SEGMENT = 70
UCS2_MULTI_SEGMENT = 67


@dataclass(frozen=True)
class SmsCost:
    """How a text goes out as SMS."""

    encoding: str  # GSM7 or UCS2
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int
    characters: int

    @property
    def is_gsm7(self) -> bool:
        return self.encoding == GSM7


def is_gsm7(text: str) -> bool:
    """Whether ``text`` can be sent in the GSM 7-bit alphabet (basic set or extension table)."""
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)


def non_gsm7_characters(text: str) -> list[str]:
    """The characters that force ``text`` into UCS-2, each once, in order of appearance."""
    return list(dict.fromkeys(c for c in text if c not in GSM7_BASIC and c not in GSM7_EXTENSION))


def _gsm7_units(char: str) -> int:
    return 2 if char in GSM7_EXTENSION else 1


def _ucs2_units(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1  # a surrogate pair outside the BMP


def _split(text: str, *, cost, single: int, multi: int) -> list[str]:
    total = sum(cost(char) for char in text)
    if total <= single:
        return [text] if text else []
    segments: list[str] = []
    current: list[str] = []
    used = 0
    for char in text:
        units = cost(char)
        if used + units > multi:  # never split an escape pair or a surrogate pair
            segments.append("".join(current))
            current, used = [], 0
        current.append(char)
        used += units
    if current:
        segments.append("".join(current))
    return segments


def sms_segments(text: str) -> list[str]:
    """``text`` split into the parts a phone network carries, in its encoding."""
    if is_gsm7(text):
        return _split(text, cost=_gsm7_units, single=GSM7_SINGLE_SEGMENT, multi=GSM7_MULTI_SEGMENT)
    return _split(text, cost=_ucs2_units, single=UCS2_SINGLE_SEGMENT, multi=UCS2_MULTI_SEGMENT)


def sms_cost(text: str) -> SmsCost:
    """The encoding, length in units and number of segments of ``text`` sent as one SMS."""
    if is_gsm7(text):
        encoding, units = GSM7, sum(_gsm7_units(char) for char in text)
    else:
        encoding, units = UCS2, sum(_ucs2_units(char) for char in text)
    return SmsCost(encoding=encoding, units=units, segments=len(sms_segments(text)), characters=len(text))
