"""
Message text is rendered at send time from templates under
``templates/messages/<language>/<step template>/``:

- ``sms.txt`` for SMS;
- ``subject.txt``, ``body.txt`` and ``body.html`` for email.

A language without its own template falls back to English.
"""

import logging
import re
from dataclasses import dataclass
from functools import cache, lru_cache

from django.conf import settings
from django.template import Context, Engine, TemplateDoesNotExist
from django.template.loader import get_template
from django.utils import translation

from .models import REACHED_STATUSES, Channel, Language, Message
from .sms_encoding import is_gsm7, sms_cost
from .sms_text import sms_text
from .unsubscribe_links import unsubscribe_url

logger = logging.getLogger(__name__)

FALLBACK_LANGUAGE = Language.ENGLISH


class RenderError(Exception):
    """A message could not be rendered; ``reason`` says why, without patient data."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RenderedMessage:
    text: str
    subject: str = ""
    html: str = ""
    unsubscribe_url: str = ""  # an email's, the one its body shows, for its List-Unsubscribe header


@cache
def _text_engine() -> Engine:
    # Plain text must not be HTML-escaped: an apostrophe in a name stays an apostrophe.
    return Engine(dirs=[str(d) for d in settings.TEMPLATES[0]["DIRS"]], autoescape=False)


def _template_path(*, language: str, template: str, part: str, engine: Engine | None) -> str:
    for lang in dict.fromkeys([language, FALLBACK_LANGUAGE]):
        path = f"messages/{lang}/{template}/{part}"
        try:
            (engine.get_template if engine else get_template)(path)
        except TemplateDoesNotExist:
            continue
        return path
    raise RenderError(f"template {template}/{part} does not exist")


def _has_part(*, language: str, template: str, part: str) -> bool:
    try:
        _template_path(language=language, template=template, part=part, engine=_text_engine())
    except RenderError:
        return False
    return True


def _render_text(*, language: str, template: str, part: str, context: dict) -> str:
    engine = _text_engine()
    path = _template_path(language=language, template=template, part=part, engine=engine)
    return engine.get_template(path).render(Context(context, autoescape=False)).strip()


def _render_sms(*, language: str, template: str, context: dict) -> str:
    """An SMS on one line; from a GSM-7 template, folded into GSM-7 (see sms_text)."""
    engine = _text_engine()
    compiled = engine.get_template(_template_path(language=language, template=template, part="sms.txt",
                                                  engine=engine))
    text = compiled.render(Context(context, autoescape=False))
    return sms_text(text) if _written_in_gsm7(compiled.source) else " ".join(text.split())


# A template comment ({# ... #}) is no text of the message: a note in it may be written in any alphabet.
_TEMPLATE_COMMENT = re.compile(r"\{#.*?#\}")


@lru_cache(maxsize=1024)
def _written_in_gsm7(source: str) -> bool:
    """Whether a template's own text is GSM-7 (asked once per template, not per message)."""
    text = _TEMPLATE_COMMENT.sub("", source)
    return is_gsm7("".join(text.split()))  # a tab in the file does not count


def _render_html(*, language: str, template: str, part: str, context: dict) -> str:
    path = _template_path(language=language, template=template, part=part, engine=None)
    return get_template(path).render(context).strip()


def is_first_sms(*, message: Message) -> bool:
    """Whether no SMS of this enrollment has gone out yet (a late enrollment may skip day 0)."""
    if message.channel != Channel.SMS:
        return False
    if message.pk is None:  # a preview of an unsaved message
        # Day 0 of the program; a reminder timed from an appointment ("day -1", "day 0") never opens it.
        return message.step.offset_days == 0 and not message.step.relative_to
    return not Message.objects.filter(
        enrollment_id=message.enrollment_id, channel=Channel.SMS,
        status__in=REACHED_STATUSES,
    ).exclude(pk=message.pk).exists()


def message_context(*, message: Message, first_sms: bool | None = None) -> dict:
    """What a message's templates see; ``first_sms`` when the caller already knows it."""
    enrollment = message.enrollment
    patient = enrollment.patient
    context = {
        "patient": patient,
        "clinic": patient.clinic,
        "enrollment": enrollment,
        "program": enrollment.program,
        "step": message.step,
        # The appointment a reminder is about: its date and time (in the patient's zone) and detail.
        "appointment": message.milestone,
        "channel": message.channel,
        "is_first_message": is_first_sms(message=message) if first_sms is None else first_sms,
    }
    if message.channel == Channel.EMAIL and patient.pk:
        context["unsubscribe_url"] = unsubscribe_url(patient=patient)
    return context


def render_message(*, message: Message, first_sms: bool | None = None,
                   context_overrides: dict | None = None) -> RenderedMessage:
    """Render ``message`` in its patient's language. Raises RenderError.

    ``first_sms``: whether it is the enrollment's first SMS, when the caller
    knows (a chunk of sends asks once for all); otherwise it is looked up.
    ``context_overrides`` replaces facts a preview cannot read from history
    (whether it is the first SMS, the unsubscribe link).
    """
    language = message.enrollment.patient.language
    template = message.step.template
    context = message_context(message=message, first_sms=first_sms) | (context_overrides or {})
    # A date in the text (an appointment's "30 September", "30 de septiembre") is written in the same language.
    with translation.override(language):
        return _render_message(message=message, language=language, template=template, context=context)


def _render_message(*, message: Message, language: str, template: str, context: dict) -> RenderedMessage:
    try:
        if message.channel == Channel.SMS:
            text = _render_sms(language=language, template=template, context=context)
            if not text:
                raise RenderError(f"template {template}/sms.txt rendered empty")
            if not is_gsm7(text):
                cost = sms_cost(text)
                logger.info("message %s goes as UCS-2: units=%d segments=%d", message.pk, cost.units, cost.segments)
            return RenderedMessage(text=text)
        if message.fallback_for_id and not _has_part(language=language, template=template, part="body.txt"):
            # The email stands in for an SMS-only step: it carries the SMS text.
            context["sms_text"] = " ".join(_render_text(
                language=language, template=template, part="sms.txt", context=context).split())
            template = "system/sms_as_email"
        subject = _render_text(language=language, template=template, part="subject.txt", context=context)
        body = _render_text(language=language, template=template, part="body.txt", context=context)
        html = _render_html(language=language, template=template, part="body.html", context=context)
        return RenderedMessage(text=body, subject=" ".join(subject.split()), html=html,
                               unsubscribe_url=context.get("unsubscribe_url", ""))
    except RenderError:
        raise
    except Exception as exc:  # a broken template must fail one message, not the cycle
        raise RenderError(f"template {template} could not be rendered: {type(exc).__name__}") from exc


def render_system_sms(*, name: str, patient, clinic, context: dict | None = None) -> str:
    """An automatic reply (opt-out, help, ...) in the patient's language; ``context`` adds to what it sees."""
    language = patient.language if patient is not None else FALLBACK_LANGUAGE
    # A date in the text ("5 June", "5 de junio") is written in the same language.
    with translation.override(language):
        return _render_sms(language=language, template=f"system/{name}",
                           context={"patient": patient, "clinic": clinic, **(context or {})})
