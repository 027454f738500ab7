"""The dashboard page: figures from reminders.selectors.dashboard, a chart drawn as inline SVG."""

from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import PermissionDenied

from ..models import MessageStatus
from ..selectors.clinic_scoping import clinics_for_user
from ..selectors.dashboard import CHART_STATUSES, DayCounts, dashboard_build
from .display import admin_page, age

# One colour a status, per theme: Delivered blue, Sent teal and Failed red (apart for
# readers who tell red from green badly too), Skipped orange and Paused
# magenta, so no two neighbours share a hue; each at least 4.5:1 against its theme's
# background (tests/admin/test_dashboard_chart.py computes it).
LIGHT_BACKGROUND, DARK_BACKGROUND = "#ffffff", "#121212"
STATUS_CHART_COLOURS = {
    MessageStatus.DELIVERED: "#0969da", MessageStatus.SENT: "#1b7c83", MessageStatus.FAILED: "#cf222e",
    MessageStatus.SKIPPED: "#bc4c00", MessageStatus.CANCELLED: "#57606a", MessageStatus.UNKNOWN: "#8250df",
    MessageStatus.SENDING: "#1a7f37", MessageStatus.QUEUED: "#3e1f79", MessageStatus.PAUSED: "#bf3989",
    MessageStatus.PENDING: "#7d4e00",
}
STATUS_CHART_COLOURS_DARK = {
    MessageStatus.DELIVERED: "#58a6ff", MessageStatus.SENT: "#7ee2b8", MessageStatus.FAILED: "#ff7b72",
    MessageStatus.SKIPPED: "#f0883e", MessageStatus.CANCELLED: "#8b949e", MessageStatus.UNKNOWN: "#bc8cff",
    MessageStatus.SENDING: "#3fb950", MessageStatus.QUEUED: "#a5d6ff", MessageStatus.PAUSED: "#ff80c8",
    MessageStatus.PENDING: "#d29922",
}

CHART_WIDTH, CHART_HEIGHT, CHART_TOP, CHART_BOTTOM, CHART_LEFT = 720, 260, 24, 40, 48


@dataclass(frozen=True)
class Segment:
    y: float
    height: float
    status: str
    title: str


@dataclass(frozen=True)
class Tick:
    y: float
    value: int


def nice_ticks(top: int) -> list[int]:
    """0 and four or five round steps up to at least ``top`` (1, 2 or 5 times a power of ten)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if top / (step * factor) <= 5:
                step *= factor
                return list(range(0, -(-top // step) * step + 1, step))
        step *= 10


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    label: str
    total: int
    segments: list[Segment]
    centre: float = 0.0
    total_y: float = 0.0  # where the day's total is written, above the bar


def chart_bars(per_day: list[DayCounts]) -> tuple[list[Bar], int]:
    """Stacked bars, one per day, in SVG coordinates; and the scale's top value (the last tick)."""
    top = nice_ticks(max([day.total for day in per_day] + [4]))[-1]  # at least 0 to 4: ticks between
    plot_height = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM
    slot = (CHART_WIDTH - CHART_LEFT) / max(len(per_day), 1)
    bars = []
    for index, day in enumerate(per_day):
        y = CHART_HEIGHT - CHART_BOTTOM
        segments = []
        for status in CHART_STATUSES:
            count = day.counts.get(status, 0)
            if not count:
                continue
            height = plot_height * count / top
            y -= height
            segments.append(Segment(y=round(y, 1), height=round(height, 1), status=str(status),
                                    title=f"{day.day:%d %b}: {count} {MessageStatus(status).label.lower()}"))
        x = CHART_LEFT + index * slot + slot * 0.15
        bars.append(Bar(x=round(x, 1), width=round(slot * 0.7, 1), label=f"{day.day:%d %b}", total=day.total,
                        segments=segments, centre=round(x + slot * 0.35, 1), total_y=round(y - 5, 1)))
    return bars, top


def dashboard_view(request, *, site):
    if not request.user.has_perm("reminders.view_message"):
        raise PermissionDenied
    own = list(clinics_for_user(user=request.user))
    chosen = request.GET.get("clinic", "")
    clinics = [clinic for clinic in own if str(clinic.pk) == chosen] or own
    dashboard = dashboard_build(clinics=clinics)
    bars, top = chart_bars(dashboard.per_day)
    plot = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM
    ticks = [Tick(y=round(CHART_HEIGHT - CHART_BOTTOM - plot * value / top, 1), value=value)
             for value in nice_ticks(top)]
    shown = [s for s in CHART_STATUSES if any(day.counts.get(s) for day in dashboard.per_day)]
    table = [(day, [day.counts.get(s, 0) for s in shown]) for day in dashboard.per_day]
    return admin_page(
        request, site=site, template="admin/reminders/dashboard.html", title="Dashboard",
        dashboard=dashboard, own_clinics=own, chosen=chosen if len(clinics) == 1 and len(own) > 1 else "",
        bars=bars, top=top, chart={"width": CHART_WIDTH, "height": CHART_HEIGHT, "left": CHART_LEFT,
                                   "base": CHART_HEIGHT - CHART_BOTTOM, "top": CHART_TOP,
                                   "label_y": CHART_HEIGHT - CHART_BOTTOM + 16},
        legend=[(MessageStatus(s).label, str(s)) for s in CHART_STATUSES],
        ticks=ticks, table_statuses=[MessageStatus(s).label for s in shown], table=table,
        colours=[(str(s), STATUS_CHART_COLOURS[s], STATUS_CHART_COLOURS_DARK[s]) for s in CHART_STATUSES],
        escalation_ages=[(item.escalation, age(item.age)) for item in dashboard.open_escalations],
        sender_backlogs=[(backlog, age(timedelta(seconds=backlog.oldest_wait_seconds)),
                          age(timedelta(seconds=backlog.drain_seconds)) if backlog.drain_seconds is not None else "")
                         for backlog in dashboard.senders],
    )
