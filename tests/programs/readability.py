"""
How hard a message is to read, for the content rules of the programs.

Reading grade is the Flesch-Kincaid grade level as computed by ``textstat`` (a
test dependency). Spanish has no grade formula in common use; its reading ease
is the Fernández-Huerta score (0-100, higher is easier; 70 and above reads as
"fairly easy").
"""

import re
from collections.abc import Iterable

READING_FORMULA = "Flesch-Kincaid grade level (textstat.flesch_kincaid_grade)"
SPANISH_READING_FORMULA = "Fernández-Huerta reading ease (textstat.fernandez_huerta)"

_PHONE_LIKE = re.compile(r"\+?\(?\d[\d ().-]{5,}\d")
_URL = re.compile(r"https?://\S+?(?=[.,;:!?)]*(?:\s|$))")


def readability_text(text: str, *, names: Iterable[str] = ()) -> str:
    """``text`` prepared for a reading-grade formula.

    Proper names (the clinic's, the patient's) are replaced by one short word,
    phone numbers by "our number" and links by "this link": the writer does not
    choose them, a reader does not decode them syllable by syllable, and a long
    clinic name would otherwise decide the grade of every message.
    """
    for name in sorted((n for n in names if n), key=len, reverse=True):
        text = text.replace(name, "Ann")
    text = _URL.sub("this link", text)
    return _PHONE_LIKE.sub("our number", text)


def reading_grade(text: str, *, names: Iterable[str] = ()) -> float:
    """The Flesch-Kincaid grade of ``text`` (see ``readability_text``). Needs ``textstat``."""
    import textstat

    return float(textstat.flesch_kincaid_grade(readability_text(text, names=names)))


def spanish_reading_ease(text: str, *, names: Iterable[str] = ()) -> float:
    """The Fernández-Huerta reading ease of Spanish ``text`` (see ``readability_text``).
    Needs ``textstat``; uses its own Spanish instance, so the shared one stays in English."""
    from textstat.textstat import textstatistics

    scorer = textstatistics()
    scorer.set_lang("es")
    return float(scorer.fernandez_huerta(readability_text(text, names=names)))
