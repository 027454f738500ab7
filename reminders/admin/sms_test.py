"""A test SMS to the coordinator's own number (their Coordinator row's mobile)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.urls import reverse

from ..selectors.clinic_scoping import coordinator_roles_for_user
from ..services.sms_test import sms_test_render, sms_test_send_to_coordinator
from .display import admin_page, mobile_ending
from .forms import SmsTestSelfForm


def sms_test_self_view(request, *, site):
    roles = coordinator_roles_for_user(user=request.user)
    form = SmsTestSelfForm(request.POST or None, roles=roles)
    if request.method == "POST" and form.is_valid():
        try:
            sms_test_send_to_coordinator(coordinator=form.cleaned_data["role"], sent_by=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Test SMS sent to your mobile "
                                      f"({mobile_ending(form.cleaned_data['role'].mobile)}).")
        return redirect(reverse("admin:followup_sms_test_self"))
    first = roles.first()
    return admin_page(
        request, site=site, template="admin/reminders/sms_test_self.html", title="Send a test SMS to yourself",
        form=form, has_roles=first is not None,
        roles=[(role, mobile_ending(role.mobile)) for role in roles],
        body=sms_test_render(clinic=first.clinic, language="en") if first else "",
    )
