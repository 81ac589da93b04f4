"""Every benchmark runs at tiny sizes, so none can rot. Figures are not checked: speed is
measured by `scripts/bench`, never asserted in tests."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# Every test here runs a benchmark end to end in subprocesses: the slow inner loop leaves them out.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = sorted((ROOT / "docs").glob("benchmarks.*"))


def fingerprints() -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in COMMITTED}


def test_the_benchmark_suite_runs_end_to_end_at_tiny_sizes():
    before = fingerprints()
    assert sorted(before) == ["benchmarks.json", "benchmarks.md", "benchmarks.png"]
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # Tiny-size figures go to a temporary folder it names, never over the committed ones.
    assert fingerprints() == before
    tmp_path = Path(re.search(r"^results go to (.+)$", done.stdout, re.M).group(1))
    assert tmp_path.resolve() != (ROOT / "docs").resolve()
    try:
        check_quick_results(done.stdout, tmp_path)
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)


def check_quick_results(stdout: str, tmp_path: Path) -> None:
    for label in ("logout p50", "extraction jobs/s", "pickup p50", "no-op jobs completed/s", "decay over 1,000 contexts"):
        assert label in stdout
    assert (tmp_path / "benchmarks.png").read_bytes().startswith(b"\x89PNG")
    assert "## Machine" in (tmp_path / "benchmarks.md").read_text()

    raw = json.loads((tmp_path / "benchmarks.json").read_text())
    assert raw["logout"]["logout_c1"]["n"] >= 40 and raw["pickup"]["pickup"]["n"] == 10
    assert raw["extraction"]["llm_calls"] == 10  # every job reached the stub LLM once
    assert raw["noop_jobs"]["jobs"] == 50 and raw["noop_jobs"]["redis_commands_per_job"] > 0
    # Decay is a fixed number of statements whatever the number of contexts (two per
    # collection: contexts, summaries, reflections, memories; one for faded contexts).
    assert [d["round_trips"] for d in raw["decay"]] == [9, 9]
    assert "worker_overhead" not in raw  # it has a file of its own
    check_worker_overhead(tmp_path)


def check_worker_overhead(tmp_path: Path) -> None:
    from bench.worker_overhead import BEGIN, END, QUICK

    overhead = json.loads((tmp_path / "benchmarks-worker-overhead.json").read_text())
    jobs = QUICK["jobs"]
    for kind in ("product", "minimal"):
        r = overhead[kind]
        # Every measured job ran and made its one LLM call, of the same size in both workers.
        assert r["jobs"] == jobs and r["results_stored"] == jobs and r["llm_calls"] == jobs, (kind, r)
        assert r["llm_input_tokens_per_call"] == overhead["minimal"]["llm_input_tokens_per_call"]
        assert r["cpu_ms_per_job"] > 0 and r["redis_commands_per_job"] > 0
    # The minimal worker's one insert is all it asks of MongoDB; the product reads before it writes.
    assert overhead["minimal"]["mongodb_round_trips"] == {"session_contexts.insert_one": jobs}
    assert overhead["product"]["mongodb_round_trips"]["chat_messages.find"] == jobs  # the session read
    assert overhead["cpu_ratio"] == overhead["product"]["cpu_ms_per_job"] / overhead["minimal"]["cpu_ms_per_job"]
    text = (tmp_path / "benchmarks.md").read_text()
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    if not overhead["met"]:  # a miss is profiled (or says why it could not be)
        assert "profile" in overhead


def test_quick_run_refuses_to_write_docs():
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", "docs"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "only the full run writes there" in done.stderr


def test_logout_under_llm_load_runs_at_tiny_size():
    done = subprocess.run(
        [sys.executable, "-m", "bench.logout_latency", "--logouts", "3", "--llm-latency", "0.1"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "logouts: 3" in done.stdout
    # Every logout's extraction reached the LLM: the work was really done behind them.
    assert "extraction requests the stub LLM received: 3" in done.stdout


def test_the_session_read_and_pickup_benchmarks_run_at_tiny_sizes():
    for args, expect in (
        (["bench.session_read", "20", "3"], '"three_plain_reads"'),
        (["bench.pickup", "3"], '"pickup_without_nudge"'),
    ):
        done = subprocess.run(
            [sys.executable, "-m", *args],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert expect in done.stdout


def test_the_flood_benchmark_runs_at_tiny_size_and_writes_its_section(tmp_path):
    (tmp_path / "benchmarks.md").write_text("# Benchmarks\n\nkept as it was\n")
    done = subprocess.run(
        [sys.executable, "-m", "bench.flood", "--seconds", "1", "--baseline-seconds", "0.5", "--out", str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    text = (tmp_path / "benchmarks.md").read_text()
    assert "kept as it was" in text and "One user flooding a chat socket" in text
    raw = json.loads((tmp_path / "benchmarks-flood.json").read_text())
    # The flooder was refused, and the service did nothing for it once it had left.
    assert raw["flooder"]["received"].get("rate_limited", 0) + raw["flooder"]["received"].get("busy", 0) > 0
    assert raw["messages_stored_3s_after_stop"] == 0


def test_the_operations_benchmark_runs_at_tiny_size_and_writes_its_section(tmp_path):
    (tmp_path / "benchmarks.md").write_text("# Benchmarks\n\nkept as it was\n")
    done = subprocess.run(
        [sys.executable, "-m", "bench.operations", "--jobs", "30", "--requests", "5", "--scrapes", "2", "--out", str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    text = (tmp_path / "benchmarks.md").read_text()
    assert "kept as it was" in text and "Job status and metrics with 30 jobs in Redis" in text
    raw = json.loads((tmp_path / "benchmarks-operations.json").read_text())
    # /metrics counted every job the benchmark put in Redis.
    assert raw["jobs_counted_by_metrics"] == 30 and raw["job_status_ms"]["n"] == 5


def test_memory_engine_bench_runs_at_tiny_size_and_keeps_docs_untouched():
    before = fingerprints()
    done = subprocess.run(
        [sys.executable, "-m", "bench.memory_engine", "--quick"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "chat recall from the recall index" in done.stdout and "nightly `detect_communities`, 5 users" in done.stdout
    assert fingerprints() == before


def test_the_full_bench_keeps_the_memory_engine_section():
    from bench.memory_engine import END, START, kept_section, replace_section

    old = f"# Benchmarks\nold figures\n\n{START}\nmemory figures\n{END}\n"
    assert kept_section(old) == f"{START}\nmemory figures\n{END}"
    assert replace_section(old, f"{START}\nnew\n{END}") == f"# Benchmarks\nold figures\n\n{START}\nnew\n{END}\n"
    assert replace_section("# Benchmarks\n", f"{START}\nnew\n{END}").endswith(f"\n\n{START}\nnew\n{END}\n")


@pytest.mark.slow
def test_the_llm_limits_benchmark_runs_at_tiny_size_and_writes_nothing():
    before = fingerprints()
    done = subprocess.run(
        [sys.executable, "-m", "bench.llm_limits", "--quick", "--write"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "<!-- llm_limits: written by python -m bench.llm_limits -->" in done.stdout
    assert "| admit, LLM_REQUESTS_PER_MINUTE only | 1 |" in done.stdout
    assert fingerprints() == before  # a quick run never writes docs/


def test_recall_bench_runs_at_tiny_size_and_reports_both_rankings():
    done = subprocess.run([sys.executable, "-m", "bench.recall", "--quick"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "today's (replaced)" in done.stdout and "new: BM25" in done.stdout and "| 100 |" in done.stdout


@pytest.mark.parametrize(
    ("module", "args", "title"),
    [
        ("bench.streams", ["--users", "2", "--samples", "2"], "Reply streams held open"),
        ("bench.header_flood", ["--connections", "2", "--seconds", "1"], "Header flood"),
    ],
)
def test_the_issue_25_benchmarks_run_at_tiny_size_and_write_their_sections(tmp_path, module, args, title):
    out = tmp_path / "benchmarks.md"
    out.write_text("# Benchmarks\n\nkept as it was\n")
    done = subprocess.run(
        [sys.executable, "-m", module, *args, "--out", str(out)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    text = out.read_text()
    assert "kept as it was" in text and title in text
