"""Turn benchmark results into a table, a markdown page and a plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

GOALS = [
    # (label, value getter, format, goal text, test)
    (
        "logout p50 / p95 / p99, concurrency 1",
        lambda r: r["logout"]["logout_c1"],
        "pcts",
        "p99 <= 10 ms",
        lambda v: v["p99"] <= 10,
    ),
    ("no-op p50 / p95 / p99, concurrency 1", lambda r: r["logout"]["noop_c1"], "pcts", "-", None),
    (
        "logout / no-op, p50 and p99",
        lambda r: (r["logout"]["ratio_p50"], r["logout"]["ratio_p99"]),
        "ratio",
        "<= 2",
        lambda v: max(v) <= 2,
    ),
    ("logouts/s, concurrency 64", lambda r: r["logout"]["logout_rps_c64"], "rate", ">= 1,000/s", lambda v: v >= 1000),
    ("no-op requests/s, concurrency 64", lambda r: r["logout"]["noop_rps_c64"], "rate", "-", None),
    ("extraction jobs/s (LLM latency below)", lambda r: r["extraction"]["jobs_per_s"], "rate", ">= 150/s", lambda v: v >= 150),
    ("extraction: most LLM calls in flight", lambda r: r["extraction"]["max_in_flight"], "int", ">= 400", lambda v: v >= 400),
    ("extraction: worker peak RSS", lambda r: r["extraction"]["peak_rss_mb"], "mb", "<= 200 MB", lambda v: v <= 200),
    ("pickup p50 / p95 / p99", lambda r: r["pickup"]["pickup"], "pcts", "p50 <= 30 ms", lambda v: v["p50"] <= 30),
    ("no-op jobs enqueued/s", lambda r: r["noop_jobs"]["enqueue_per_s"], "rate", "-", None),
    ("no-op jobs completed/s, one worker", lambda r: r["noop_jobs"]["complete_per_s"], "rate", ">= 1,000/s", lambda v: v >= 1000),
    ("Redis commands per no-op job", lambda r: r["noop_jobs"]["redis_commands_per_job"], "float", "-", None),
]


def fmt(value: Any, kind: str) -> str:
    if kind == "pcts":
        return f"{value['p50']:.2f} / {value['p95']:.2f} / {value['p99']:.2f} ms"
    if kind == "ratio":
        return f"{value[0]:.2f} / {value[1]:.2f}"
    if kind == "rate":
        return f"{value:,.0f}/s"
    if kind == "mb":
        return f"{value:.0f} MB"
    if kind == "float":
        return f"{value:.1f}"
    return f"{value:,}"


def rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    out = []
    for label, get, kind, goal, test in GOALS:
        value = get(results)
        verdict = "-" if test is None else ("met" if test(value) else "MISSED")
        out.append((label, fmt(value, kind), goal, verdict))
    for d in results["decay"]:
        out.append(
            (
                f"decay over {d['contexts']:,} contexts",
                f"{d['wall_s']:.2f} s, {d['round_trips']} round trips",
                "round trips flat",
                "-",
            )
        )
    return out


def table(results: dict[str, Any]) -> str:
    lines = ["| benchmark | figure | goal | |", "| --- | --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows(results)]
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for name, cdf in results["logout"]["cdf"].items():
        left.plot(cdf, [p / 100 for p in range(1, 101)], label=f"{name} (n={results['logout'][f'{name}_c1']['n']:,})")
    left.set(title="HTTP latency, concurrency 1 (wrk)", xlabel="ms", ylabel="fraction of requests at or below")
    left.grid(True, which="both", alpha=0.3)
    left.legend()
    pickup = results["pickup"]
    right.hist(pickup["samples"], bins=40, color="tab:green")
    right.set(title=f"pickup latency, poll {pickup['poll_delay_s']} s", xlabel="ms from enqueue to start", ylabel="jobs")
    right.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
