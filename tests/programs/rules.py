"""The words the content rules look for, per language, and how a text is cut into units."""

import re

# "Call emergency services now" tier: each sign, as a pattern per language.
EMERGENCY_SIGNS = {
    "en": {
        "chest pain": r"chest pain",
        "sudden trouble breathing": r"sudden trouble breathing|short(ness)? of breath",
        "new leg weakness or numbness": r"\blegs?\b.*\b(weak|numb)|\b(weak|numb)\w*\b.*\blegs?\b",
        "bladder": r"bladder",
        "bowel": r"bowel",
    },
    "es": {
        "dolor en el pecho": r"dolor (en el|de) pecho",
        "falta de aire": r"falta de aire|le cuesta respirar",
        "piernas débiles o dormidas":
            r"piernas.*(debilidad|débil|dormid|adormec)|(debilidad|débil|dormid|adormec).*piernas",
        "orina": r"orina|vejiga",
        "heces": r"heces|intestino",
    },
}
# "Call the clinic today" tier. The wound only after a procedure.
CLINIC_TODAY_SIGNS = {
    "en": {"fever": r"fever", "wound": r"wound", "back pain": r"back pain", "calf": r"\bcalf\b"},
    "es": {"fiebre": r"fiebre", "herida": r"herida", "dolor de espalda": r"dolor de espalda",
           "pantorrilla": r"pantorrilla"},
}
NOW = {"en": r"\bnow\b", "es": r"\bahora\b|\bya\b"}
TODAY = {"en": r"\btoday\b|same day", "es": r"\bhoy\b|mismo día"}

# Words a discreet SMS never says (the clinic's own name aside).
DIAGNOSIS_WORDS = {
    "en": r"fractur\w*|\bbroken\b|\bbreaks?\b|spin(e|al)\b|vertebr\w*|osteopor\w*|kyphoplast\w*"
          r"|\bPVP\b|\bPKP\b|cement|procedure|surg\w*|operation|needle|weak bones",
    "es": r"fractur\w*|\brot[oa]s?\b|rotura|quebr\w*|columna|v[eé]rtebra\w*|vertebral\w*|osteopor\w*"
          r"|vertebroplast\w*|cifoplast\w*|\bPVP\b|\bPKP\b|cemento|procedimiento|cirug[ií]a|operaci[oó]n"
          r"|aguja|huesos? d[eé]bil\w*",
}

# Promises of pain relief, and doses: neither belongs in a message.
PAIN_PROMISES = {
    "en": r"relie(f|ve)|feel better|pain[- ]free|will (ease|go away|get better|improve)|goes away|cure",
    "es": r"alivi\w*|sentirá mejor|se sentira mejor|sin dolor|desaparec\w*|se cura|curar",
}
DOSES = (r"\b\d[\d,.]*\s*(mg|milligrams?|mcg|µg|g\b|ml|iu|units?|unidades|tablets?|tabletas?|pills?"
         r"|pastillas?|capsules?|c[aá]psulas?|puffs?|drops?|gotas)\b"
         r"|every \d+ hours|cada \d+ horas|\d+ times a day|\d+ veces al d[ií]a")

# Spanish written without the accents it needs (to pass as GSM-7) is misspelt, not plain.
SPANISH_MISSING_ACCENTS = (
    r"\b(dia|dias|numero|medico|medica|clinica|telefono|despues|tambien|aqui|informacion"
    r"|atencion|revision|caida|caidas|rapido|facil|sintomas|mas alla|todavia|proxim[oa]s?|ultim[oa]s?"
    r"|llamenos|escribanos|tomelo|levantese|musculos|infeccion|inyeccion|podria|ademas|esta bien|mas)\b"
)


def sms_units(text: str) -> list[str]:
    """Sentences of an SMS; a question is kept with the sentence that answers it
    ("Fever? Call us today.")."""
    sentences = re.findall(r"[^.?!]+[.?!]*", text)
    units: list[str] = []
    carry = ""
    for sentence in sentences:
        sentence = carry + sentence
        if sentence.rstrip().endswith("?"):
            carry = sentence
            continue
        carry = ""
        if sentence.strip():
            units.append(sentence.strip())
    if carry.strip():
        units.append(carry.strip())
    return units


def email_units(text: str) -> list[str]:
    """Paragraphs of an email's text body, the footer left out (a heading and its list are one)."""
    body = text.split("\n--\n")[0]
    return [block.strip() for block in re.split(r"\n\s*\n", body) if block.strip()]


def found(patterns: dict[str, str], unit: str) -> set[str]:
    return {name for name, pattern in patterns.items() if re.search(pattern, unit, re.I | re.S)}
