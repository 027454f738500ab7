"""
Figure 6, the admin at size: the messages change list and a patient's change
page, server side (Django's test client, logged in as a superuser), and their
query counts, with 10,000 and with 1,000,000 messages in the table.
"""

import statistics
import time

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse

from .report import Figure

LIST_GOAL_MS, PATIENT_GOAL_MS = 300, 200


def pages_measure(*, patient_id: int, repeats: int) -> dict[str, dict]:
    """p50 time and query count of each page."""
    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True})
    pages = {
        "messages change list": reverse("admin:reminders_message_changelist"),
        "patient change page": reverse("admin:reminders_patient_change", args=[patient_id]),
    }
    measured = {}
    # In-process requests measure the server's work; HTTPS is the proxy's business.
    with override_settings(ALLOWED_HOSTS=["testserver"], SECURE_SSL_REDIRECT=False):
        client = Client()
        client.force_login(user)
        for name, url in pages.items():
            client.get(url)  # warm-up: per-process caches (content types, templates) fill here
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url)
            if response.status_code != 200:
                raise RuntimeError(f"{name} answered {response.status_code}")
            # Read now: the next request resets the connection's query log.
            count = len(queries)
            slowest = max(queries.captured_queries, key=lambda q: float(q["time"]))
            heavy = [f"{float(q['time']) * 1000:.0f} ms: {q['sql'][:90]}..." for q in queries.captured_queries
                     if float(q["time"]) >= 0.010]
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                client.get(url)
                times.append((time.perf_counter() - started) * 1000)
            measured[name] = {"p50_ms": statistics.median(times), "queries": count,
                              "slowest_query_ms": float(slowest["time"]) * 1000,
                              "heavy_queries": heavy}
    return measured


def figure_admin(*, small: dict, large: dict, small_rows: int, large_rows: int, repeats: int) -> Figure:
    lst, pat = "messages change list", "patient change page"
    flat = all(small[p]["queries"] == large[p]["queries"] for p in (lst, pat))
    met = large[lst]["p50_ms"] <= LIST_GOAL_MS and large[pat]["p50_ms"] <= PATIENT_GOAL_MS and flat
    details = {}
    for page in (lst, pat):
        for rows, measured in ((small_rows, small), (large_rows, large)):
            m = measured[page]
            details[f"{page}, {rows:,} messages"] = (f"p50 {m['p50_ms']:.0f} ms, {m['queries']} queries, "
                                                     f"slowest query {m['slowest_query_ms']:.0f} ms")
    details["queries of 10 ms or more, change list at size"] = "; ".join(large[lst]["heavy_queries"]) or "none"
    return Figure(
        number=6, name="Admin at size",
        result=(f"with {large_rows:,} messages: list p50 {large[lst]['p50_ms']:.0f} ms, patient page p50 "
                f"{large[pat]['p50_ms']:.0f} ms; queries {small[lst]['queries']}->{large[lst]['queries']} and "
                f"{small[pat]['queries']}->{large[pat]['queries']} ({small_rows:,} -> {large_rows:,} rows)"),
        goal=f"list p50 <= {LIST_GOAL_MS} ms, patient p50 <= {PATIENT_GOAL_MS} ms, query count flat",
        met=met,
        details=details,
        notes=["The query count does not grow with the table, but two of the change list's queries read all of "
               "it: the paginator's COUNT(*) and the date hierarchy's list of years; their time grows with the "
               "rows (see the queries of 10 ms or more).",
               f"Server side: Django's test client in the benchmark process, logged in as a superuser, "
               f"p50 of {repeats} requests after a warm-up request and one whose queries are counted."],
    )
