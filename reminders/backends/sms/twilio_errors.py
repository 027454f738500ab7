"""Twilio's error codes, sorted by what the service does about them, in words a coordinator understands."""

# Trying again later may work.
RETRYABLE = {
    "20429": "Twilio asked us to slow down (too many requests).",
    "30003": "The phone was switched off or out of reach.",
    "30008": "The mobile carrier reported an unknown error.",
}

# Trying again will not help.
PERMANENT = {
    "21211": "The mobile number is not a valid phone number.",
    "21408": "Texting to this country is not enabled on the clinic's Twilio account.",
    "21610": "The patient replied STOP to this number; texts are blocked until they reply START.",
    "21614": "The number is not a mobile phone (perhaps a landline), so it cannot get texts.",
    "30005": "The number does not exist or is no longer in service.",
    "30006": "The number is a landline or its carrier cannot take texts.",
    "30007": "The mobile carrier blocked the message as unwanted.",
}

# The number itself cannot take texts: try the patient's email instead.
FALLBACK = {"21211", "21614", "30003", "30005", "30006"}

OPTED_OUT = "21610"


def explain(code: str) -> str:
    return RETRYABLE.get(code) or PERMANENT.get(code) or f"Twilio error {code}."


def is_retryable(code: str) -> bool:
    return code in RETRYABLE
