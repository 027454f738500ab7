"""The messages list's error filter: readable choices, and no scan of the whole table to list them."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from reminders.models import Message, MessageStatus
from tests.moments import NOW

pytestmark = pytest.mark.time_machine(NOW, tick=False)


@pytest.fixture
def failed(side_a):
    """Three of side A's messages failed: a landline, an unlisted code, an email the mail server refused."""
    first, second, third = side_a.enrollment.messages.order_by("pk")[:3]
    for message, code in [(first, "21614"), (second, "63999"), (third, "smtp")]:
        Message.objects.filter(pk=message.pk).update(status=MessageStatus.FAILED, error_code=code)
    return {"21614": first, "63999": second, "smtp": third}


@pytest.mark.parametrize(("choice", "shown"), [
    ("21614", {"21614"}), ("smtp", {"smtp"}), ("other", {"63999"}), ("any", {"21614", "63999", "smtp"}),
])
def test_the_error_filter_finds_messages_by_code(coord_a_client, failed, choice, shown):
    response = coord_a_client.get(reverse("admin:reminders_message_changelist"), {"error": choice})
    assert response.status_code == 200
    assert set(response.context["cl"].result_list) == {failed[code] for code in shown}


def test_the_error_choices_are_in_words_and_not_read_from_the_table(coord_a_client, failed):
    with CaptureQueriesContext(connection) as queries:
        response = coord_a_client.get(reverse("admin:reminders_message_changelist"))
    [error_filter] = [f for f in response.context["cl"].filter_specs if f.title == "error"]
    labels = [choice["display"] for choice in error_filter.choices(response.context["cl"])]
    assert "21614: The number is not a mobile phone (perhaps a landline), so it cannot get texts." in labels
    assert "Another code" in labels
    assert not [q for q in queries.captured_queries if "DISTINCT" in q["sql"] and "error_code" in q["sql"]]
