"""Per-clinic scoping for every ModelAdmin that shows clinic data.

A coordinator reaches only their clinics' rows in every place the admin
reaches rows: change lists, change and history pages opened by URL, search,
filters, autocomplete, form choices, actions and exports. They all start from
``get_queryset`` or ``formfield_for_foreignkey``; both are narrowed here.
"""

import csv
import logging
import re
from collections.abc import Callable

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from ..refusals import Refused, quoted
from ..selectors.clinic_scoping import choices_for_user, clinic_path_for, clinics_for_user, queryset_for_user
from ..selectors.patients import patient_search_mobile
from .guards import RefusalsAdminMixin

logger = logging.getLogger(__name__)

# An id as typed in a URL: ASCII digits, as many as a bigint holds for sure. Anything
# else failed deep in the query (a 500); it is refused with the reason instead.
ID = re.compile(r"[0-9]{1,18}")


class ClinicScopedAdminMixin(RefusalsAdminMixin):
    """Narrow every queryset and choice of this admin to ``request.user``'s clinics.

    ``patient_search_path`` (``""`` for patients, ``"patient__"`` for rows of a
    patient) makes a search typed as a phone number, in any common format, find
    the patient's mobile as stored (E.164).
    """

    patient_search_path: str | None = None

    @property
    def clinic_path(self) -> str:
        return clinic_path_for(self.model)

    def get_queryset(self, request):
        return queryset_for_user(
            queryset=super().get_queryset(request), user=request.user, clinic_path=self.clinic_path
        )

    def get_search_results(self, request, queryset, search_term):
        # Autocomplete and the change list hand in a queryset; narrow it again so
        # no caller can widen the search past the user's clinics.
        queryset = queryset_for_user(queryset=queryset, user=request.user, clinic_path=self.clinic_path)
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if self.patient_search_path is not None and (mobile := patient_search_mobile(term=search_term)):
            results = results | queryset.filter(**{f"{self.patient_search_path}mobile": mobile})
        return results, may_have_duplicates

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        choices = choices_for_user(model=db_field.related_model, user=request.user)
        if choices is not None:
            kwargs["queryset"] = choices
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def lookup_allowed(self, lookup, value, request=None):
        # The clinic filter's parameter spans relations, which Django allows
        # only for filters it knows; it filters the already scoped queryset.
        filters = self.get_list_filter(request) if request is not None else self.list_filter
        if any(getattr(f, "parameter_name", None) == lookup and getattr(f, "clinic_path", None) for f in filters):
            return True
        return super().lookup_allowed(lookup, value, request)

    def get_object_or_404(self, request, object_id):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(f"No {self.opts.verbose_name} with id {object_id!r} that you can see.")
        return obj

    def history_view(self, request, object_id, extra_context=None):
        # simple-history falls back to the history of rows get_queryset hides.
        self.get_object_or_404(request, object_id)
        return super().history_view(request, object_id, extra_context=extra_context)


class ScopedHistoryAdmin(ClinicScopedAdminMixin, SimpleHistoryAdmin):
    """A scoped admin whose audit history can be read, never reverted."""

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self.get_object_or_404(request, object_id)
        if not ID.fullmatch(str(version_id)):
            raise Http404(f"No version {quoted(str(version_id))} in the history of this {self.opts.verbose_name}: "
                          "versions are numbered.")
        if request.method != "GET":
            # A revert would bypass the services (schedule, consent ledger).
            return HttpResponseNotAllowed(["GET"])
        return super().history_form_view(request, object_id, version_id, extra_context=extra_context)


def clinic_list_filter(path: str) -> type[admin.SimpleListFilter]:
    """A clinic filter offering only the user's clinics (Django's would list every clinic)."""

    class ClinicFilter(admin.SimpleListFilter):
        title = "clinic"
        clinic_path = path
        parameter_name = "clinic__id__exact" if path == "pk" else f"{path}__id__exact"

        def lookups(self, request, model_admin):
            return [(str(clinic.pk), clinic.name) for clinic in clinics_for_user(user=request.user)]

        def queryset(self, request, queryset):
            value = self.value()
            if value is None:
                return queryset
            if not ID.fullmatch(value):
                raise Refused(f"clinic filter: {quoted(value)} is not a valid id.")
            lookup = "pk" if path == "pk" else f"{path}__id"
            return queryset.filter(**{lookup: value})

    return ClinicFilter


# A cell a spreadsheet would run as a formula; a phone number such as
# +12025550101 is left alone.
_FORMULA = re.compile(r"^[=@\t\r]|^[+-](?![\d\s().-]+$)")


def csv_cell(value) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if _FORMULA.match(text) else text


Column = tuple[str, Callable]


class CsvExportMixin:
    """An "Export to CSV" action over the selected rows (already scoped by the change list)."""

    export_columns: list[Column] = []
    actions = ["export_csv"]

    def get_export_queryset(self, queryset):
        return queryset

    @admin.action(description="Export selected to CSV", permissions=["view"])
    def export_csv(self, request, queryset):
        name = self.opts.model_name
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="{name}-export-{stamp}.csv"'
        response.write("\ufeff")  # so spreadsheet programs read UTF-8
        writer = csv.writer(response)
        writer.writerow([header for header, _ in self.export_columns])
        count = 0
        for obj in self.get_export_queryset(queryset).iterator(chunk_size=500):
            writer.writerow([csv_cell(value(obj)) for _, value in self.export_columns])
            count += 1
        logger.info("export of %d %s rows by user %s", count, name, request.user.pk)
        return response
