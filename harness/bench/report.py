"""The figures as a table, as BENCHMARKS.md and as JSON."""

from dataclasses import asdict, dataclass, field


@dataclass
class Figure:
    number: int
    name: str
    result: str  # the headline, in words and numbers
    goal: str
    met: bool | None  # None: not measured (an error)
    # What must hold at any size, the CI smoke run included: every message sent
    # once, none lost or early, the work actually done. Speed goals are met's alone.
    sound: bool = True
    details: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Report:
    quick: bool
    machine: dict
    load_before: list[float]
    load_after: list[float] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    seconds: float = 0.0
    # CPU used by other work on the machine during the run, in cores.
    other_work: dict = field(default_factory=dict)

    @property
    def busy(self) -> bool:
        """Whether other work shared the CPUs: a load before or after, or CPU used by others during."""
        cores = self.machine.get("cores") or 1
        before_after = max(self.load_before[:1] + self.load_after[:1], default=0)
        return before_after > cores * 0.5 or self.other_work.get("mean_cores", 0) >= 0.2

    def failure(self) -> str:
        """Why the run must fail ("" when it need not): whatever its size, a figure not measured, or
        one whose messages were sent twice, lost or early, or whose work was not done; in a full run,
        also a goal not met."""
        if broken := [f.number for f in self.figures if f.met is None]:
            return f"figure(s) {broken} could not be measured (see above)"
        if unsound := [f.number for f in self.figures if not f.sound]:
            return f"figure(s) {unsound}: messages sent twice, lost or early, or the work not done (see above)"
        # A full run is judged on its goals too; the CI smoke run's sizes are too small for speed to mean much.
        if not self.quick and (missed := [f.number for f in self.figures if f.met is False]):
            return f"figure(s) {missed}: goal not met (see above)"
        return ""

    def as_dict(self) -> dict:
        return {"quick": self.quick, "machine": self.machine, "load_before": self.load_before,
                "load_after": self.load_after, "other_work": self.other_work, "seconds": round(self.seconds, 1),
                "busy": self.busy,
                "all_met": all(f.met for f in self.figures),
                "figures": [f.as_dict() for f in sorted(self.figures, key=lambda f: f.number)]}


def _met(figure: Figure) -> str:
    return {True: "yes", False: "NO", None: "error"}[figure.met]


def table(report: Report) -> str:
    rows = [("#", "figure", "result", "goal", "met")]
    rows += [(str(f.number), f.name, f.result, f.goal, _met(f))
             for f in sorted(report.figures, key=lambda f: f.number)]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(report: Report, *, command: str) -> str:
    m = report.machine
    out = [
        "# Benchmarks",
        "",
        f"Measured by `{command}` on {m['date']}, commit `{m['commit']}`, in {report.seconds / 60:.1f} minutes"
        + (" (quick smoke mode: sizes cut about 100 times; the numbers prove only that it runs)." if report.quick
           else "."),
        "Everything ran on one machine: PostgreSQL, Redis, the Twilio fake, the Celery worker(s) and beat,",
        "each a process of its own.",
        "",
        "| machine | |",
        "| --- | --- |",
        f"| CPU | {m['cpu']}, {m['cores']} cores |",
        f"| memory | {m['memory_gb']} GB |",
        f"| OS | {m['os']} |",
        f"| Python | {m['python']} |",
        f"| PostgreSQL | {m['postgresql']} |",
        f"| Redis | {m['redis']} |",
        f"| Django / Celery / twilio | {m['django']} / {m['celery']} / {m['twilio']} |",
        f"| load average (1, 5, 15 min) | before {report.load_before}, after {report.load_after} |",
        f"| CPU used by other work during the run | {report.other_work.get('mean_cores', 0)} cores on average, "
        f"{report.other_work.get('max_cores', 0)} at most (sampled every second) |",
        "",
    ]
    if report.busy:
        out += [f"**The machine was busy**: other work (other engineers' test runs) shared the "
                f"{m['cores']} cores during this run, as the load average and the CPU used by others show; "
                "the figures that depend on CPU (1, and the times in 3, 5 and 6) are lower than on an idle "
                "machine.", ""]
    out += ["## Figures", "", "| # | figure | result | goal | met |", "| --- | --- | --- | --- | --- |"]
    for f in sorted(report.figures, key=lambda f: f.number):
        out.append(f"| {f.number} | {_cell(f.name)} | {_cell(f.result)} | {_cell(f.goal)} | {_met(f)} |")
    out.append("")
    for f in sorted(report.figures, key=lambda f: f.number):
        out += [f"## {f.number}. {f.name}", ""]
        for note in f.notes:
            out += [note, ""]
        plan = f.details.get("plan")
        flat = {k: v for k, v in f.details.items() if k != "plan"}
        if flat:
            out += ["| measure | value |", "| --- | --- |"]
            out += [f"| {_cell(str(k))} | {_cell(str(v))} |" for k, v in flat.items()]
            out.append("")
        if plan:
            out += ["```", plan.rstrip(), "```", ""]
    return "\n".join(out)
