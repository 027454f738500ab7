"""SMS encoding and segment counting (GSM 03.38 / UCS-2), and the reading-grade helper."""

import pytest

from reminders.sms_encoding import GSM7, UCS2, is_gsm7, non_gsm7_characters, sms_cost, sms_segments

from tests.programs.readability import readability_text, reading_grade, spanish_reading_ease


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", GSM7, 0, 0),
        ("a" * 160, GSM7, 160, 1),
        ("a" * 161, GSM7, 161, 2),
        ("a" * 306, GSM7, 306, 2),
        ("a" * 307, GSM7, 307, 3),
        ("a" * 459, GSM7, 459, 3),
        # Extension-table characters cost two septets each.
        ("{" * 80, GSM7, 160, 1),
        ("€" * 81, GSM7, 162, 2),
        ("a" * 158 + "[", GSM7, 160, 1),
        ("a" * 159 + "]", GSM7, 161, 2),
        # GSM-7 letters that look foreign are still one septet.
        ("é è ù ì ò ñ Ñ ü Ü ä ö à ¿ ¡ £ ¥ § Ø å Δ Ω", GSM7, 41, 1),
        # One character outside the set switches the whole text to UCS-2.
        ("á" + "a" * 69, UCS2, 70, 1),
        ("á" + "a" * 70, UCS2, 71, 2),
        ("í" * 134, UCS2, 134, 2),
        ("ó" * 201, UCS2, 201, 3),
        ("ú" * 202, UCS2, 202, 4),
        ("“quoted”", UCS2, 8, 1),
        # Outside the BMP: a surrogate pair is two code units.
        ("😀" * 35, UCS2, 70, 1),
        ("😀" * 36, UCS2, 72, 2),
    ],
)
def test_sms_cost(text, encoding, units, segments):
    cost = sms_cost(text)
    assert (cost.encoding, cost.units, cost.segments, cost.characters) == (encoding, units, segments, len(text))
    assert len(sms_segments(text)) == segments
    assert "".join(sms_segments(text)) == text


def test_an_escape_pair_is_never_split_across_segments():
    text = "a" * 152 + "{" + "b" * 10  # the brace would straddle the 153-septet boundary
    parts = sms_segments(text)
    assert parts[0] == "a" * 152
    assert parts[1].startswith("{")


def test_a_surrogate_pair_is_never_split_across_segments():
    text = "a" * 66 + "😀" + "b" * 10  # 66 + 2 units: the emoji does not fit in the first 67
    parts = sms_segments(text)
    assert parts[0] == "a" * 66
    assert parts[1].startswith("😀")


def test_every_multipart_segment_fits_its_payload():
    for text in ["x" * 1000, "{x" * 300, "ñá" * 200, "😀a" * 100]:
        gsm = is_gsm7(text)
        for part in sms_segments(text):
            units = sum(2 if (c in "{}[]~|^\\€\f" if gsm else ord(c) > 0xFFFF) else 1 for c in part)
            assert units <= (153 if gsm else 67)


def test_non_gsm7_characters_lists_each_offender_once():
    assert non_gsm7_characters("Día de la visita: llámenos, ¿sí? día") == ["í", "á"]
    assert non_gsm7_characters("Plain text, 100% GSM-7 {ok}") == []


def test_readability_text_replaces_names_phone_numbers_and_links():
    text = "Riverside Spine Clinic: call (202) 555-0143 or +1 202 555 0199, see https://x.example/a."
    assert readability_text(text, names=["Riverside Spine Clinic"]) == (
        "Ann: call our number or our number, see this link."
    )


def test_reading_grade_is_flesch_kincaid():
    textstat = pytest.importorskip("textstat")
    text = "Take short walks a few times a day. Rest in short spells."
    assert reading_grade(text) == pytest.approx(textstat.flesch_kincaid_grade(text))
    assert reading_grade(text) < reading_grade(
        "Postoperative ambulation substantially diminishes thromboembolic complications."
    )


def test_spanish_reading_ease_leaves_the_english_scorer_alone():
    textstat = pytest.importorskip("textstat")
    english = "Take short walks a few times a day. Rest in short spells."
    before = textstat.flesch_kincaid_grade(english)
    easy = spanish_reading_ease("Camine un poco cada día. Descanse en ratos cortos.")
    hard = spanish_reading_ease(
        "La movilización postoperatoria disminuye sustancialmente las complicaciones tromboembólicas."
    )
    assert easy > 80 > hard
    assert textstat.flesch_kincaid_grade(english) == before
