"""Record milestones from a CSV file: the check and recording of ``manage.py milestones_csv``, as an upload page.

Scoped to the user's clinics: a row naming another clinic, or a record number not
found in the clinic, is a problem of that row, and nothing is recorded.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.models import ADDITION, LogEntry
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import ngettext

from ..models import Patient
from ..selectors.clinic_scoping import clinics_for_user
from ..services.csv_import import csv_template
from ..services.milestones_import import MILESTONE_ALL_COLUMN_NAMES, MILESTONE_CSV_COLUMNS, milestone_csv_import
from .display import admin_page
from .forms import CsvUploadForm

# Recording a milestone changes the patient's record (and their schedule follows).
PERMISSION = "reminders.change_patient"


def milestones_csv_view(request, *, site):
    """Upload a CSV: every row is checked, then all are recorded in one go, or none."""
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    form = CsvUploadForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and (data := form.csv_bytes()) is not None:
        result = milestone_csv_import(data=data, clinics=clinics_for_user(user=request.user), recorded_by=request.user)
        if result.ok:
            LogEntry.objects.log_actions(
                user_id=request.user.pk, queryset=result.recorded, action_flag=ADDITION,
                change_message="Recorded from a CSV file.")
            count = len(result.recorded)
            messages.success(request, ngettext("Recorded {n} milestone from the CSV file.",
                                               "Recorded {n} milestones from the CSV file.", count).format(n=count))
            return redirect(reverse("admin:reminders_patient_changelist"))
    return admin_page(
        request, model_admin=site.get_model_admin(Patient), template="admin/reminders/milestone/import_csv.html",
        title="Record milestones from a CSV file", form=form, result=result, columns=MILESTONE_CSV_COLUMNS,
        max_kb=settings.CSV_IMPORT_MAX_BYTES // 1024, max_rows=settings.CSV_IMPORT_MAX_ROWS,
    )


def milestones_csv_template_view(request):
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    response = HttpResponse(csv_template(columns=MILESTONE_ALL_COLUMN_NAMES), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="milestones-template.csv"'
    return response
