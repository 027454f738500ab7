"""The dashboard page: figures from reminders.selectors.dashboard, a chart drawn as inline SVG."""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied

from ..models import MessageStatus
from ..selectors.clinic_scoping import clinics_for_user
from ..selectors.dashboard import CHART_STATUSES, DayCounts, dashboard_build
from .display import admin_page, age

STATUS_CHART_COLOURS = {
    MessageStatus.DELIVERED: "#116329", MessageStatus.SENT: "#2da44e", MessageStatus.FAILED: "#cf222e",
    MessageStatus.SKIPPED: "#d4a72c", MessageStatus.CANCELLED: "#8c959f", MessageStatus.UNKNOWN: "#8250df",
    MessageStatus.SENDING: "#54aeff", MessageStatus.QUEUED: "#54aeff", MessageStatus.PAUSED: "#bf8700",
    MessageStatus.PENDING: "#b6e3ff",
}

CHART_WIDTH, CHART_HEIGHT, CHART_TOP, CHART_BOTTOM, CHART_LEFT = 720, 240, 10, 40, 40


@dataclass(frozen=True)
class Segment:
    y: float
    height: float
    colour: str
    title: str


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    label: str
    total: int
    segments: list[Segment]


def chart_bars(per_day: list[DayCounts]) -> tuple[list[Bar], int]:
    """Stacked bars, one per day, in SVG coordinates; and the scale's top value."""
    top = max([day.total for day in per_day] + [1])
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
            segments.append(Segment(y=round(y, 1), height=round(height, 1),
                                    colour=STATUS_CHART_COLOURS[status],
                                    title=f"{day.day:%d %b}: {count} {MessageStatus(status).label.lower()}"))
        bars.append(Bar(x=round(CHART_LEFT + index * slot + slot * 0.15, 1), width=round(slot * 0.7, 1),
                        label=f"{day.day:%d %b}", total=day.total, segments=segments))
    return bars, top


def dashboard_view(request, *, site):
    if not request.user.has_perm("reminders.view_message"):
        raise PermissionDenied
    own = list(clinics_for_user(user=request.user))
    chosen = request.GET.get("clinic", "")
    clinics = [clinic for clinic in own if str(clinic.pk) == chosen] or own
    dashboard = dashboard_build(clinics=clinics)
    bars, top = chart_bars(dashboard.per_day)
    return admin_page(
        request, site=site, template="admin/reminders/dashboard.html", title="Dashboard",
        dashboard=dashboard, own_clinics=own, chosen=chosen if len(clinics) == 1 and len(own) > 1 else "",
        bars=bars, top=top, chart={"width": CHART_WIDTH, "height": CHART_HEIGHT, "left": CHART_LEFT,
                                   "base": CHART_HEIGHT - CHART_BOTTOM, "top": CHART_TOP,
                                   "label_y": CHART_HEIGHT - CHART_BOTTOM + 16},
        legend=[(MessageStatus(s).label, STATUS_CHART_COLOURS[s]) for s in CHART_STATUSES],
        escalation_ages=[(item.escalation, age(item.age)) for item in dashboard.open_escalations],
    )
