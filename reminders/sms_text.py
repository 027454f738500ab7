"""
SMS text and the GSM-7 alphabet.

An SMS goes out in GSM-7 (160 characters a segment) when every character is in
the GSM 03.38 alphabet, and in UCS-2 (70 a segment) as soon as one is not. The
message templates are written in GSM-7 on purpose: patients are often on basic
phones, and a text that silently turns UCS-2 costs two to three times as many
segments and may show as boxes.

What can break that is data: a name or a clinic detail typed with "ó", "ł",
curly quotes, an emoji or an invisible right-to-left mark. The choice made here,
for an SMS whose template is GSM-7:

- the text is folded into GSM-7: accents GSM-7 lacks are dropped ("Ramón" ->
  "Ramon"; "é", "ñ", "ü" and the others GSM-7 has are kept), typographic quotes
  and dashes become plain ones, odd spaces become spaces, and emoji, symbols and
  invisible characters (bidi marks, zero-width spaces, controls) are removed;
- a text holding letters GSM-7 cannot write at all (a name in Chinese, Arabic,
  Cyrillic ...) is not mangled into something unreadable: it keeps its letters,
  loses only its invisible characters, and goes as UCS-2, deliberately; the
  renderer logs that with the message id and the segments it costs (counted
  by reminders.sms_encoding.sms_cost), never the text.

A template written outside GSM-7 on purpose is left as it is.
"""

import unicodedata

from .sms_encoding import GSM7_BASIC, GSM7_EXTENSION
from .validators import JOINERS, is_invisible

GSM7_CHARACTERS = GSM7_BASIC | GSM7_EXTENSION

# Characters with a plain GSM-7 stand-in that Unicode decomposition does not give.
STAND_INS = {
    **dict.fromkeys("‘’‚‛′ʼ`´", "'"),
    **dict.fromkeys("“”„‟″«»", '"'),
    **dict.fromkeys("‐‑‒–—―−", "-"),
    "…": "...", "•": "-", "·": ".",
    "œ": "oe", "Œ": "OE", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ı": "i", "ð": "d", "Ð": "D",
    "þ": "th", "Þ": "Th", "ħ": "h", "Ħ": "H", "ŋ": "n", "Ŋ": "N", "ŧ": "t", "Ŧ": "T", "ſ": "s",
}


def _fold(char: str) -> str | None:
    """``char`` in GSM-7 ("" to drop it), or None when it is a letter GSM-7 cannot write."""
    if char in GSM7_CHARACTERS:
        return char
    if char in STAND_INS:
        return STAND_INS[char]
    category = unicodedata.category(char)
    if is_invisible(char) or char in JOINERS:  # joiners only matter between letters GSM-7 lacks
        return ""
    if category == "Zs":
        return " "
    if category == "Nd":
        return str(unicodedata.digit(char))
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    if base and base != char and all(_fold(c) not in (None, "") for c in base):
        return "".join(_fold(c) for c in base)
    if category[0] in "SP" or category == "Mn":
        return ""  # emoji, symbols, exotic punctuation, stray combining marks
    return None


def sms_text(text: str) -> str:
    """``text`` folded into GSM-7, or, if it holds letters GSM-7 cannot write, as typed
    without its invisible characters (it then goes as UCS-2). Whitespace runs become one space."""
    text = unicodedata.normalize("NFC", text)  # "e" + combining acute is "é", which GSM-7 has
    folded = [_fold(char) for char in text]
    if None in folded:
        return " ".join("".join(char for char in text if not is_invisible(char)).split())
    return " ".join("".join(folded).split())
