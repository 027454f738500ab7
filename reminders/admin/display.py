"""Small display helpers shared by the admin pages."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.html import format_html

from ..scheduling import duration_words, moment_words


def local_time(moment: datetime | None, zone: ZoneInfo) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def cut(text: str, *, width: str = "m"):
    """A list cell cut to one line (the whole text in its title): width "s", "m" or "l"."""
    return format_html('<span class="cut cut-{}" title="{}">{}</span>', width, text, text)


def short_local_time(moment: datetime | None, zone: ZoneInfo) -> str:
    """A list's time: "30 Nov 10:00 EST" (the year is in the list's date bar)."""
    return "-" if moment is None else moment_words(moment, zone)


def send_fate(*, skipped: bool, sends_late: bool, max_lateness: timedelta | None) -> str:
    """What will happen to a planned message, in words: the preview says what will not happen too."""
    if skipped:
        return f"Skipped: too late (allowed {duration_words(max_lateness)})" if max_lateness else "Skipped: too late"
    if sends_late:
        return "Sends now (late)"
    return "Will be sent"


def age(delta: timedelta) -> str:
    """A short age such as "3 d 4 h" or "25 min"."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def mobile_ending(number) -> str:
    """The last digits of a number, enough to recognise it on screen."""
    text = str(number or "")
    return f"…{text[-2:]}" if text else "no number"


def admin_page(
    request: HttpRequest, *, model_admin: admin.ModelAdmin | None = None, site: admin.AdminSite | None = None,
    template: str, title: str, **context,
) -> TemplateResponse:
    """Render one of the coordinators' own admin pages with the admin's usual context."""
    site = site or model_admin.admin_site
    base = {**site.each_context(request), "title": title}
    if model_admin is not None:
        base |= {"opts": model_admin.opts, "app_label": model_admin.opts.app_label}
    return TemplateResponse(request, template, base | context)
