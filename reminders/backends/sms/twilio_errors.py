"""Twilio's error codes, sorted by what the service does about them, in words a coordinator understands."""

# Trying again later may work.
RETRYABLE = {
    "20429": "Twilio asked us to slow down (too many requests).",
    # The sender's queue at Twilio is full: sent faster than the number may send. Never the patient's fault.
    "21611": "The clinic's sending number had too many texts waiting at Twilio; sent again later.",
    "30001": "The clinic's sending number had too many texts waiting at Twilio (queue overflow); sent again later.",
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

# The provider's queue for the sender is full, or it asks us to slow down: the text is fine and goes
# again later however many times it takes (the step's late policy ends it), and the sender slows down.
QUEUE_FULL = {"429", "20429", "21611", "30001"}

# The number itself cannot take texts: try the patient's email instead.
FALLBACK = {"21211", "21614", "30003", "30005", "30006"}

OPTED_OUT = "21610"


def explain(code: str) -> str:
    return RETRYABLE.get(code) or PERMANENT.get(code) or f"Twilio error {code}."


def is_retryable(code: str) -> bool:
    return code in RETRYABLE or code in QUEUE_FULL
