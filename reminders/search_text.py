"""Text as a search compares it: without accents, as PostgreSQL's ``unaccent`` gives it.

On SQLite the same function is registered as ``UNACCENT`` on every connection
(reminders/apps.py), so a search such as ``last_name__unaccent__icontains``
reads the same on both databases.
"""

import unicodedata

# Letters NFKD does not take apart, as unaccent's rules write them.
_LETTERS = str.maketrans({
    "ß": "ss", "ẞ": "SS", "Æ": "AE", "æ": "ae", "Œ": "OE", "œ": "oe", "Ø": "O", "ø": "o",
    "Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ð": "D", "ð": "d", "Þ": "TH", "þ": "th", "ı": "i",
})


def unaccent(value: str | None) -> str | None:
    """``value`` without its accents and marks: "García" -> "Garcia", "Łódź" -> "Lodz"."""
    if value is None:
        return None
    decomposed = unicodedata.normalize("NFKD", str(value).translate(_LETTERS))
    return "".join(char for char in decomposed if not unicodedata.combining(char))
