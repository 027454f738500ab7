"""
Validators for what people type: names, email addresses and the short texts a
message quotes. Errors say which character is wrong, by sight or, for an
invisible one, by its Unicode name.
"""

import unicodedata

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

# Zero-width non-joiner and joiner: invisible, but Persian and Indic names need them.
JOINERS = {"\u200c", "\u200d"}
# Besides letters and combining marks, a name may hold these.
NAME_PUNCTUATION = set(" '’ʼ-‐.")
# Control (Cc), format (Cf: bidi overrides and marks, zero-width spaces ...), private,
# unassigned and surrogate code points, and line or paragraph separators: they hide
# or reorder what a reader sees, or break a line where none belongs.
INVISIBLE_CATEGORIES = {"Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp"}


def is_invisible(char: str) -> bool:
    return unicodedata.category(char) in INVISIBLE_CATEGORIES and char not in JOINERS


def describe(char: str) -> str:
    """A character as an error message shows it: “<” (U+003C LESS-THAN SIGN)."""
    label = f"U+{ord(char):04X} {unicodedata.name(char, '')}".strip()
    if is_invisible(char) or char.isspace():
        return f"an invisible character ({label})"
    return f"“{char}” ({label})"


def validate_plain_text(value: str) -> None:
    """One line of text without control, bidi or other invisible characters."""
    for char in value:
        if is_invisible(char):
            raise ValidationError(
                "Remove %(char)s: it can hide or reorder what a reader sees.",
                code="invisible_character", params={"char": describe(char)},
            )


def validate_person_name(value: str) -> None:
    """Letters (any script), combining marks, spaces, hyphens, apostrophes and full stops."""
    validate_plain_text(value)
    for char in value:
        if unicodedata.category(char)[0] in "LM" or char in NAME_PUNCTUATION or char in JOINERS:
            continue
        raise ValidationError(
            "A name may hold letters, spaces, hyphens, apostrophes and full stops, not %(char)s.",
            code="invalid_name_character", params={"char": describe(char)},
        )
    if not any(unicodedata.category(char)[0] == "L" for char in value):
        raise ValidationError("A name needs at least one letter.", code="name_without_letter")


def validate_plain_email(value: str) -> None:
    """What Django's EmailValidator lets through but a clinic's patient never has:
    quoted local parts (which may hold control characters), spaces, invisible characters."""
    validate_plain_text(value)
    if '"' in value or any(char.isspace() for char in value):
        raise ValidationError(
            "Enter a plain address such as name@example.org, without quotes or spaces.",
            code="invalid_email",
        )


# Quoted in every warning-signs text: digits only, as dialled.
validate_dial_number = RegexValidator(
    r"^\+?[0-9]{2,15}\Z", "Enter the number as dialled, digits only: e.g. 911, 112 or 999.",
    code="invalid_dial_number",
)


def normalize_name(value: str) -> str:
    """NFC (one code point for "é", however it was typed) and single spaces."""
    return " ".join(unicodedata.normalize("NFC", value).split())
