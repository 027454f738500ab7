"""The "Needs action" worklist: patients past a target of their road with nothing recorded,
most overdue first, each with one click to record the missing milestone or note a call attempt."""

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.urls import reverse
from django.utils.http import urlencode

from ..models import MilestoneKind
from ..scheduling import moment_words
from ..selectors.clinic_scoping import clinics_for_user
from ..selectors.needs_action import TARGETS, needs_action_list
from .display import admin_page
from .inbox import phone_link

PER_PAGE = 100


def needs_action_view(request, *, site):
    if not request.user.has_perm("reminders.view_patient"):
        raise PermissionDenied
    own = list(clinics_for_user(user=request.user))
    chosen = request.GET.get("clinic", "")
    clinics = [clinic for clinic in own if str(clinic.pk) == chosen] or own
    found = needs_action_list(clinics=clinics)
    page = Paginator(found, PER_PAGE).get_page(request.GET.get("page"))
    here = reverse("admin:followup_needs_action") + (f"?{urlencode({'clinic': chosen})}" if chosen else "")
    can_change = request.user.has_perm("reminders.change_patient")
    rows = []
    for row in page.object_list:
        patient = row.patient
        record = reverse("admin:reminders_patient_milestone_record", args=[patient.pk])
        attempt = row.last_attempt
        rows.append({
            "patient": patient, "url": reverse("admin:reminders_patient_change", args=[patient.pk]),
            "phone": phone_link(patient.mobile), "clinic": patient.clinic, "anchor_date": row.enrollment.anchor_date,
            "days_past": row.days_past,
            "missed": [{"words": missed.target.missing, "days_past": missed.days_past, "due": missed.due,
                        "record_url": f"{record}?{urlencode({'kind': missed.target.record_kind, 'next': here})}",
                        "record_label": f"Record “{MilestoneKind(missed.target.record_kind).label}”"}
                       for missed in row.missed],
            "last_attempt": {"when": moment_words(attempt.created_at, patient.zone), "note": attempt.note,
                             "by": attempt.made_by.get_username() if attempt.made_by_id else "a former user"}
            if attempt else None,
            "attempt_url": reverse("admin:reminders_patient_contact_attempt", args=[patient.pk]),
        })
    return admin_page(
        request, site=site, template="admin/reminders/needs_action.html", title="Needs action",
        rows=rows, page=page, total=len(found), own_clinics=own, chosen=chosen if len(clinics) == 1 else "",
        several_clinics=len(own) > 1, here=here, can_change=can_change, targets=TARGETS,
    )
