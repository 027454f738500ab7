"""The audit page: the fracture liaison audit of one of the user's clinics for a period, as a
table and a chart (inline SVG, with the same figures in the table), and as a CSV download."""

import csv
import logging
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.utils import timezone

from ..models import Clinic
from ..selectors.clinic_scoping import clinics_for_user
from ..selectors.fls_audit import GRADES, FlsAudit, fls_audit, fls_audit_problems
from .display import admin_page
from .forms import DATE_INPUT

logger = logging.getLogger(__name__)

# One colour a grade, per theme, each at least 4.5:1 against its theme's background
# (tests/admin/test_fls_report_page.py computes it). The grade is always written next
# to its colour, in the chart and in the table: red and green read alike to many.
LIGHT_BACKGROUND, DARK_BACKGROUND = "#ffffff", "#121212"
GRADE_COLOURS = {"red": "#cf222e", "amber": "#9a6700", "green": "#1a7f37"}
GRADE_COLOURS_DARK = {"red": "#ff7b72", "amber": "#d29922", "green": "#3fb950"}

# Horizontal bars, 0 to 100 %, one row a measure: labels on the left, the figure in words on the right.
CHART_WIDTH, CHART_LEFT, CHART_PLOT, CHART_TOP, CHART_ROW, CHART_BOTTOM = 720, 190, 330, 12, 36, 30
BANDS = (0, 50, 80, 100)


class FlsAuditForm(forms.Form):
    clinic = forms.ModelChoiceField(queryset=Clinic.objects.none(), empty_label=None)
    date_from = forms.DateField(label="Anchor dates from", widget=DATE_INPUT, input_formats=["%Y-%m-%d"])
    date_to = forms.DateField(label="to (included)", widget=DATE_INPUT, input_formats=["%Y-%m-%d"])
    as_of = forms.DateField(
        label="As of",
        required=False,
        widget=DATE_INPUT,
        input_formats=["%Y-%m-%d"],
        help_text="Windows closed by this day; empty: today.",
    )

    def __init__(self, *args, clinics, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clinic"].queryset = clinics

    def clean(self):
        data = super().clean()
        if {"clinic", "date_from", "date_to"} <= set(data):
            for field, problem in fls_audit_problems(
                clinic=data["clinic"], date_from=data["date_from"], date_to=data["date_to"], as_of=data.get("as_of")
            ).items():
                self.add_error(field, problem)
        return data


@dataclass(frozen=True)
class ChartRow:
    label: str
    y: float  # the bar's top
    text_y: float  # the baseline of the row's text
    width: float  # 0 when no percent
    grade: str | None
    words: str  # the figure in words: "33.3 % red (3 of 9)"


def chart_rows(audit: FlsAudit) -> list[ChartRow]:
    rows = []
    for index, kpi in enumerate(audit.kpis):
        y = CHART_TOP + index * CHART_ROW
        if kpi.percent is None:
            words = "no patient to count yet"
        else:
            words = f"{kpi.percent} % {kpi.grade} ({kpi.numerator} of {kpi.denominator})"
        width = 0 if kpi.percent is None else round(CHART_PLOT * float(kpi.percent) / 100, 1)
        rows.append(ChartRow(label=kpi.short_label, y=y + 6, text_y=y + 21, width=width, grade=kpi.grade, words=words))
    return rows


def _defaults(*, clinics) -> dict[str, str]:
    """The previous calendar year, for the first of the user's clinics, as of today."""
    last_year = timezone.now().year - 1
    first = clinics.first()
    return {
        "clinic": str(first.pk) if first else "",
        "date_from": date(last_year, 1, 1).isoformat(),
        "date_to": date(last_year, 12, 31).isoformat(),
        "as_of": "",
    }


def _csv_response(audit: FlsAudit, *, user) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"fls-audit-{audit.clinic.pk}-{audit.date_from:%Y%m%d}-{audit.date_to:%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response.write("\ufeff")  # so spreadsheet programs read UTF-8
    csv.writer(response).writerows(audit.csv_rows())
    logger.info("fls audit csv of clinic %s by user %s", audit.clinic.pk, user.pk)
    return response


def fls_report_view(request, *, site):
    if not request.user.has_perm("reminders.view_enrollment"):
        raise PermissionDenied
    clinics = clinics_for_user(user=request.user).order_by("name")
    data = _defaults(clinics=clinics) | {key: value for key, value in request.GET.items() if key != "download"}
    has_clinics = clinics.exists()
    form = FlsAuditForm(data if has_clinics else None, clinics=clinics)
    audit = fls_audit(**form.cleaned_data) if form.is_valid() else None
    if audit is not None and request.GET.get("download") == "csv":
        return _csv_response(audit, user=request.user)
    height = CHART_TOP + CHART_ROW * 5 + CHART_BOTTOM
    response = admin_page(
        request,
        site=site,
        template="admin/reminders/fls_audit.html",
        title="Fracture liaison audit",
        form=form,
        audit=audit,
        has_clinics=has_clinics,
        csv_query=urlencode(
            {**{key: data[key] for key in ("clinic", "date_from", "date_to", "as_of")}, "download": "csv"}
        ),
        rows=chart_rows(audit) if audit else [],
        chart={
            "width": CHART_WIDTH,
            "height": height,
            "top": CHART_TOP,
            "left": CHART_LEFT,
            "right": CHART_LEFT + CHART_PLOT,
            "text_x": CHART_LEFT - 8,
            "words_x": CHART_LEFT + CHART_PLOT + 10,
            "bar_height": 20,
            "axis_y": height - CHART_BOTTOM,
            "axis_label_y": height - CHART_BOTTOM + 16,
        },
        bands=[(CHART_LEFT + CHART_PLOT * value / 100, value) for value in BANDS],
        colours=[(grade, GRADE_COLOURS[grade], GRADE_COLOURS_DARK[grade]) for grade in GRADES],
    )
    if form.is_bound and not form.is_valid():
        response.status_code = 400  # shown again with the reasons on the fields
    return response
