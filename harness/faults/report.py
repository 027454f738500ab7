"""The results as Markdown: a table, then each scenario in detail, written into RELIABILITY.md."""

import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import celery
import django

from ..machine import cpu_model, memory_gb
from ..processes import redis_server_path
from .runner import ScenarioResult, Sizes

BEGIN = "<!-- chaos results: written by `make chaos`, do not edit by hand -->"
END = "<!-- end of chaos results -->"
COLUMNS = ["sent", "delivered", "failed", "skipped", "cancelled", "pending"]


def machine_describe(*, postgres: str) -> str:
    try:
        redis_version = subprocess.run([redis_server_path(), "--version"], capture_output=True, text=True,
                                       timeout=10).stdout.split()[2].removeprefix("v=")
    except (OSError, IndexError, subprocess.SubprocessError):
        redis_version = "?"
    return (f"{cpu_model()}, {os.cpu_count()} cores, {memory_gb():.0f} GB RAM, "
            f"{platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}, Django {django.get_version()}, Celery {celery.__version__}, "
            f"PostgreSQL {postgres}, Redis {redis_version}")


def _other(result: ScenarioResult) -> int:
    return sum(n for status, n in result.counts.items() if status not in COLUMNS)


def results_table(results: list[ScenarioResult]) -> str:
    head = ["scenario", "planned", *COLUMNS, "other", "max requests / message", "duplicates", "seconds",
            "invariants"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for number, result in enumerate(results, start=1):
        verdict = "met" if result.ok else ("harness error" if result.error else "**NOT met**")
        lines.append("| " + " | ".join([
            f"{number}. {result.name}", str(result.planned),
            *(str(result.counts.get(status, 0)) for status in COLUMNS), str(_other(result)),
            str(result.max_requests), str(result.duplicates), f"{result.seconds:.0f}", verdict,
        ]) + " |")
    return "\n".join(lines)


def _details(number: int, result: ScenarioResult) -> str:
    provider = result.provider
    lines = [f"### {number}. {result.title}", "", result.what, ""]
    lines += [f"- {note}" for note in result.notes]
    lines.append(f"- {result.too_late} messages planned too late (the late policy skips them); "
                 f"{'settled' if result.settled else 'NOT settled'} after {result.seconds:.0f} s")
    if provider:
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(provider["outcomes"].items()))
        callbacks = provider["callbacks"]
        lines.append(f"- provider: {provider['creates']} send requests ({outcomes}), {provider['accepted']} "
                     f"accepted, {provider['lookups']} lookups, {callbacks['posted']} status callbacks posted"
                     + (f", {callbacks['failed']} failed" if callbacks["failed"] else ""))
    if result.recovered:
        lines.append(f"- lease recovery took back {result.recovered['requeued']} claims that never reached a "
                     f"worker (returned to the schedule) and {result.recovered['interrupted']} sends cut short "
                     "(made unknown, then settled)")
    for check in result.checks:
        lines.append(f"- {'✓' if check.ok else '✗'} **{check.name}**: {check.detail}")
    if result.error:
        lines += ["- harness error:", "", "```", result.error, "```"]
    return "\n".join(lines)


def results_markdown(*, results: list[ScenarioResult], sizes: Sizes, quick: bool, postgres: str) -> str:
    now = datetime.now(UTC)
    parts = [
        f"Run on {now:%Y-%m-%d %H:%M} UTC, {'quick' if quick else 'full'} mode, "
        f"on {machine_describe(postgres=postgres)}.",
        "",
        f"Per scenario: {sizes.patients} patients x 12 SMS, all due at once; one worker (prefork, "
        f"concurrency 2) unless said otherwise; `CLAIM_LEASE_SECONDS={sizes.lease_seconds}`, "
        f"`UNKNOWN_SETTLE_AFTER_SECONDS={sizes.unknown_settle_seconds}`, settle task every "
        f"{sizes.settle_interval_seconds:g} s, `SMS_RETRY_BASE_SECONDS=1`, `DISPATCH_INTERVAL_SECONDS=1`, "
        f"Twilio read timeout {sizes.read_timeout_seconds:g} s; the fake answers after 20 ms. "
        "\"seconds\" runs from the workers' start to the last message settled; \"pending\" are waiting "
        "for a retry; \"other\" are queued, sending or unknown.",
        "",
        results_table(results),
        "",
    ]
    for number, result in enumerate(results, start=1):
        parts += [_details(number, result), ""]
    return "\n".join(parts).rstrip() + "\n"


def report_write(*, path: Path, markdown: str) -> None:
    """Replace the results between the markers, keeping the hand-written rest of the file."""
    text = path.read_text() if path.exists() else f"# Reliability\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text = text.rstrip() + f"\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{BEGIN}\n{markdown}{END}{tail}")
