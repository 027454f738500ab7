"""The automatic replies (STOP, START, HELP, ...) with the longest clinic name: GSM-7, and START short."""

from datetime import date

import pytest

from reminders.sms_encoding import GSM7, sms_cost
from reminders.rendering import render_system_sms

from .samples import long_clinic, patient

SYSTEM_TEXTS = ("answer_thanks", "help", "opt_in", "opt_out", "red_flag")
# The longest month name in either language.
NEXT_TEXT = date(2026, 9, 30)
NEXT_TEXT_WORDS = {"en": "30 September", "es": "30 de septiembre"}


def render(name: str, language: str, **context) -> str:
    clinic = long_clinic()
    person = patient(clinic=clinic, language=language, discreet=False)
    return render_system_sms(name=name, patient=person, clinic=clinic, **({"context": context} if context else {}))


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("name", SYSTEM_TEXTS)
def test_automatic_replies_are_gsm7(name, language):
    assert sms_cost(render(name, language)).encoding == GSM7


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("next_text", [NEXT_TEXT, None])
def test_start_says_when_the_next_text_comes_in_at_most_two_gsm7_segments(language, next_text):
    text = render("opt_in", language, next_text=next_text)
    cost = sms_cost(text)
    assert (cost.encoding, cost.segments <= 2) == (GSM7, True), text
    assert "STOP" in text and "HELP" in text
    assert (NEXT_TEXT_WORDS[language] in text) == (next_text is not None), text
