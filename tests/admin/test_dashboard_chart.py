"""Issue 13, item 10: the dashboard's chart has ticks, a table, colours that differ and read, plain labels."""

import colorsys

import pytest
from django.urls import reverse

from reminders.admin.dashboard import (
    DARK_BACKGROUND,
    LIGHT_BACKGROUND,
    STATUS_CHART_COLOURS,
    STATUS_CHART_COLOURS_DARK,
    nice_ticks,
)
from reminders.models import MessageStatus
from tests.moments import NOW

# The admin suites live on the afternoon of the reference day.
pytestmark = pytest.mark.time_machine(NOW, tick=False)


def luminance(colour: str) -> float:
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted([luminance(a), luminance(b)], reverse=True)
    return (high + 0.05) / (low + 0.05)


def deuteranopia(colour: str) -> tuple[float, float, float]:
    """The colour as a reader without green cones sees it (Viénot, Brettel and Mollon 1999)."""
    r, g, b = (int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return (0.29275 * r + 0.70725 * g, 0.29275 * r + 0.70725 * g, -0.02234 * r + 0.02234 * g + b)


def hue_apart(a: str, b: str) -> float:
    """How far apart two colours' hues are, in degrees round the colour wheel."""
    hues = [colorsys.rgb_to_hsv(*(int(c[i:i + 2], 16) / 255 for i in (1, 3, 5)))[0] * 360 for c in (a, b)]
    apart = abs(hues[0] - hues[1])
    return min(apart, 360 - apart)


@pytest.mark.parametrize(("palette", "background"), [(STATUS_CHART_COLOURS, LIGHT_BACKGROUND),
                                                     (STATUS_CHART_COLOURS_DARK, DARK_BACKGROUND)])
def test_every_status_colour_reads_against_its_themes_background(palette, background):
    assert set(palette) == set(MessageStatus)
    low = {status: round(contrast(colour, background), 2) for status, colour in palette.items()
           if contrast(colour, background) < 4.5}
    assert not low


@pytest.mark.parametrize("palette", [STATUS_CHART_COLOURS, STATUS_CHART_COLOURS_DARK])
@pytest.mark.parametrize(("one", "other"), [(MessageStatus.SENT, MessageStatus.DELIVERED),
                                            (MessageStatus.SKIPPED, MessageStatus.PAUSED),
                                            (MessageStatus.FAILED, MessageStatus.DELIVERED)])
def test_neighbouring_statuses_differ_in_hue_and_for_colour_blind_readers(palette, one, other):
    # Not two greens or two golds told apart by lightness alone: hues at least 20 degrees apart.
    assert hue_apart(palette[one], palette[other]) >= 20
    a, b = deuteranopia(palette[one]), deuteranopia(palette[other])
    assert sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) ** 0.5 > 0.2


def test_the_scale_has_round_ticks():
    assert nice_ticks(1) == [0, 1]
    assert nice_ticks(7) == [0, 2, 4, 6, 8]
    assert nice_ticks(23) == [0, 5, 10, 15, 20, 25]
    assert nice_ticks(480) == [0, 100, 200, 300, 400, 500]


def test_the_chart_has_ticks_totals_and_a_table_and_plain_labels(coord_a_client, side_a):
    page = coord_a_client.get(reverse("admin:followup_dashboard"))
    html = page.content.decode()
    assert len(page.context["ticks"]) >= 3
    assert 'class="dash-total"' in html  # each day's total, without hovering
    assert 'id="per-day-table"' in html and "<caption" in html
    assert "Target not reached yet" not in html and "Not due yet" in html
    assert f"--status-sent: {STATUS_CHART_COLOURS_DARK[MessageStatus.SENT]}" in html
