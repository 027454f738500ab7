from django.contrib import admin
from django.urls import path

from reminders import views, webhooks

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon),
    path("webhooks/twilio/status/<int:message_id>/", webhooks.twilio_status, name="twilio-status"),
    path("webhooks/twilio/inbound/", webhooks.twilio_inbound, name="twilio-inbound"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]

# 400 and 404 pages that say why (reminders/refusals.py).
handler400 = "reminders.views.bad_request"
handler404 = "reminders.views.not_found"
