"""The coordinators' admin: thin, it reads through selectors and writes through services.

Every ModelAdmin showing clinic data is scoped to the user's clinics
(``scoping.ClinicScopedAdminMixin``).
"""

from . import enrollments, inbox, messages, patients, programs  # noqa: F401  (registers the ModelAdmins)
