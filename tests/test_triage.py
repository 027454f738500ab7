import pytest

from reminders.triage import keyword, parse_answer, rule_matches, warning_signs


@pytest.mark.parametrize("body", ["STOP", "stop", " Stop. ", "STOPALL", "unsubscribe", "Cancel", "END",
                                  "quit", "REVOKE", "OPTOUT", "opt out", "Opt-Out"])
def test_opt_out_words(body):
    assert keyword(body) == "opt_out"


@pytest.mark.parametrize(("body", "kind"), [("START", "opt_in"), ("unstop", "opt_in"), ("HELP", "help"),
                                            ("info", "help"), ("please stop the pain", None), ("7", None)])
def test_other_keywords_and_sentences(body, kind):
    assert keyword(body) == kind


def test_the_providers_opt_out_type_wins():
    assert keyword("Parar", opt_out_type="STOP") == "opt_out"
    assert keyword("yes", opt_out_type="START") == "opt_in"


@pytest.mark.parametrize(("body", "asks", "answer"), [
    ("7", "pain_score", "7"), ("Pain 8/10", "pain_score", "8"), ("10", "pain_score", "10"),
    ("my pain is 3", "pain_score", "3"), ("dolor 6 de 10", "pain_score", "6"),
    ("I took 2 pills", "pain_score", None), ("11", "pain_score", None),
    ("Yes", "yes_no", "yes"), ("sí", "yes_no", "yes"), ("no.", "yes_no", "no"), ("maybe", "yes_no", None),
    ("2", "choice_1_3", "2"), ("4", "choice_1_3", None), ("7", "", None),
])
def test_check_in_answers(body, asks, answer):
    assert parse_answer(body, asks=asks) == answer


@pytest.mark.parametrize(("rule", "value", "matches"), [
    (">=7", "7", True), (">=7", "6", False), (">=7", "yes", False), ("<3", "2", True),
    ("no", "no", True), ("no", "yes", False), ("2,3", "3", True), ("2, 3", "1", False), ("", "9", False),
])
def test_escalation_rules(rule, value, matches):
    assert rule_matches(rule, value) is matches


@pytest.mark.parametrize(("body", "signs"), [
    ("I have chest pain since this morning", ["chest pain"]),
    ("cant breathe well", ["shortness of breath"]),
    ("my legs feel numb and weak", ["leg weakness or numbness"]),
    ("I can't pee", ["bladder or bowel control"]),
    ("Fever 38.5 and the wound is red", ["fever", "wound problem"]),
    ("my calf is swollen", ["calf swelling"]),
    ("Tengo dolor de pecho y fiebre", ["chest pain", "fever"]),
    ("La herida supura", ["wound problem"]),
    ("Thanks, all good, walking every day", []),
])
def test_warning_signs_in_free_text(body, signs):
    assert warning_signs(body) == signs
