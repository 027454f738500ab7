"""
Reading patients' replies: keywords, check-in answers and warning signs. Pure
functions, no database.

Warning signs are matched generously (a false alarm costs a phone call; a miss
can cost much more), in English and Spanish, without accents mattering.
"""

import re
import unicodedata

OPT_OUT_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
OPT_IN_WORDS = {"START", "UNSTOP"}
HELP_WORDS = {"HELP", "INFO"}


def _plain(text: str) -> str:
    """Lower case, accents removed, runs of spaces folded."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.lower().split())


def keyword_word(body: str) -> str:
    """The letters of a message, upper case and without accents: "Stop!" -> "STOP"."""
    return re.sub(r"[^A-Z]", "", _plain(body).upper())


def keyword(body: str, *, opt_out_type: str = "") -> str | None:
    """"opt_out", "opt_in" or "help" when the message is one of those keywords.

    Like the carriers, only a message that is the keyword alone counts, so a
    sentence that happens to contain "stop" is a reply, not an opt-out.
    """
    provider = (opt_out_type or "").upper()
    if provider == "STOP":
        return "opt_out"
    if provider == "START":
        return "opt_in"
    if provider == "HELP":
        return "help"
    word = keyword_word(body)
    if word in OPT_OUT_WORDS:
        return "opt_out"
    if word in OPT_IN_WORDS:
        return "opt_in"
    if word in HELP_WORDS:
        return "help"
    return None


YES = {"yes", "y", "yeah", "yep", "si", "s"}
NO = {"no", "n", "nope"}
_PAIN = re.compile(r"^(?:my\s+)?(?:pain|dolor)?\s*(?:is|es|score|:|=)?\s*(10|\d)\s*(?:(?:/|out of|de)\s*10)?$")


def parse_answer(body: str, *, asks: str) -> str | None:
    """The answer a reply gives to a check-in, normalised, or None if it gives none."""
    text = re.sub(r"[.!?,;]+$", "", _plain(body)).strip()
    if asks == "pain_score":
        match = _PAIN.match(text)
        return match.group(1) if match else None
    if asks == "yes_no":
        if text in YES:
            return "yes"
        if text in NO:
            return "no"
        return None
    if asks == "choice_1_3":
        return text if text in {"1", "2", "3"} else None
    return None


def rule_matches(rule: str, value: str) -> bool:
    """Whether an answer meets a step's escalation rule: ">=7", "<3", "no", "2,3"."""
    rule = rule.strip().lower()
    if not rule:
        return False
    comparison = re.fullmatch(r"(>=|<=|>|<|=)\s*(\d+)", rule)
    if comparison:
        if not value.isdigit():
            return False
        op, limit = comparison.group(1), int(comparison.group(2))
        number = int(value)
        return {">=": number >= limit, "<=": number <= limit, ">": number > limit,
                "<": number < limit, "=": number == limit}[op]
    return value.lower() in {part.strip() for part in rule.split(",")}


# Each sign: a name for coordinators, and patterns over the plain text.
WARNING_SIGNS: dict[str, list[str]] = {
    "chest pain": [r"chest (pain|hurt|tight)", r"pain in (my|the) chest", r"dolor (de|en el) pecho"],
    "shortness of breath": [r"short(ness)? of breath", r"(can ?not|can'?t|hard to|trouble) breath",
                            r"breathless", r"falta de aire", r"no puedo respirar", r"me ahogo"],
    "leg weakness or numbness": [r"(leg|legs|foot|feet)\b.{0,20}(weak|numb|tingl|dead)",
                                 r"(weak|numb|tingl)\w*\b.{0,20}(leg|legs|foot|feet)",
                                 r"can'?t (walk|stand|move my leg)",
                                 r"numb\w* between (my|the) legs", r"debilidad", r"entumecid", r"adormecid",
                                 r"hormigueo"],
    "bladder or bowel control": [r"bladder", r"bowel", r"(can'?t|cannot|unable to) (pee|urinate|pass urine)",
                                 r"wet (myself|the bed)", r"incontinen", r"orina", r"vejiga", r"intestino"],
    "fever": [r"fever", r"temperature", r"chills", r"fiebre", r"escalofrio"],
    "wound problem": [r"wound", r"incision", r"(red|swollen|leak|drain|pus|ooz)\w*.{0,20}(site|cut|needle)",
                      r"\bpus\b", r"draining", r"oozing", r"herida", r"supura"],
    "calf swelling": [r"calf", r"swollen (leg|ankle)", r"(leg|ankle) (is )?swollen", r"pantorrilla",
                      r"pierna hinchada"],
}
_COMPILED = {sign: [re.compile(p) for p in patterns] for sign, patterns in WARNING_SIGNS.items()}


def warning_signs(body: str) -> list[str]:
    """The warning signs a free-text reply mentions, in a stable order."""
    text = _plain(body)
    return [sign for sign, patterns in _COMPILED.items() if any(p.search(text) for p in patterns)]
