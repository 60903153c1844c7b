"""`newscrawl explain`: every extracted paragraph, in order, kept or removed with its rule."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from newscrawl.commands.explain import (
    ADDED,
    CHANGED,
    KEPT,
    REMOVED,
    TRIMMED,
    explain_paragraphs,
)
from newscrawl.items import Removal
from pipelines.extract import extract_html

ROOT = Path(__file__).resolve().parent.parent

PARAGRAPHS = [
    "The port authority opened its automated container terminal on Monday, two years after "
    "the council approved the plan and after a long dispute over jobs on the docks.",
    "Cranes on the new quay are driven from a control room, and trucks are booked into "
    "time slots, which the operator says will cut queues at the gate by half this winter.",
    "Dock workers' unions agreed to the change in spring in exchange for retraining and a "
    "guarantee that no permanent employee would be laid off before the end of the decade.",
    "The terminal can handle four hundred thousand containers a year, a third more than the "
    "old quay, and the first ship to use it arrived from Rotterdam on Monday evening.",
]
SHORT = "The meeting moved to Friday at noon, the office said on Tuesday."
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Port opens automated terminal</title>
<meta property="og:title" content="Port opens automated terminal"></head>
<body><main><article><h1>Port opens automated terminal</h1>
{body}
</article></main></body></html>
"""


def run_explain(page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NEWSCRAWL_STATE": "memory://"}
    return subprocess.run(
        [sys.executable, "-m", "newscrawl.cli", "explain", str(page), *args],
        cwd=page.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_lines_up_kept_removed_and_trimmed_paragraphs() -> None:
    extracted = [
        "Lead paragraph here.",
        "  ",
        "Body text. Photo: Jane Roe",
        "Body",
        "Lead paragraph here!",
    ]
    kept = ["Lead paragraph here.", "Body text.", "Body"]
    removed = [
        Removal("normalize", "empty", "  "),
        Removal("widgets", "credit", "Photo: Jane Roe"),
        Removal("duplicates", "exact", "Lead paragraph here!"),
    ]
    verdicts = explain_paragraphs(extracted, kept, removed)
    assert [(v.status, v.rules) for v in verdicts] == [
        (KEPT, []),
        (REMOVED, ["normalize:empty"]),
        (TRIMMED, ["widgets:credit"]),
        (KEPT, []),
        (REMOVED, ["duplicates:exact"]),
    ]
    assert verdicts[2].removed == ["Photo: Jane Roe"]
    assert [v.text for v in verdicts] == extracted


def test_first_copy_kept_second_removed_and_unplaced_text_shown() -> None:
    extracted = ["Same words here", "Other words", "Same words here"]
    kept = ["Same words here", "Other words, reworded by a stage", "New"]
    removed = [Removal("duplicates", "exact", "Same words here"), Removal("x", "y", "elsewhere")]
    verdicts = explain_paragraphs(extracted, kept, removed)
    assert [v.status for v in verdicts] == [KEPT, CHANGED, REMOVED, ADDED, ADDED, REMOVED]
    assert verdicts[-1].text == "elsewhere" and verdicts[-1].rules == ["x:y"]


def test_explain_page_through_the_pipelines(tmp_path: Path) -> None:
    # the second paragraph appears again at the end: the duplicates stage removes the copy
    body = "\n".join(f"<p>{p}</p>" for p in [*PARAGRAPHS, PARAGRAPHS[1]])
    page = tmp_path / "port.html"
    page.write_text(PAGE.format(body=body), encoding="utf-8")
    result = run_explain(page, "--json", "--url", "https://news.example.org/port")
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["url"] == "https://news.example.org/port"
    assert report["dropped"] is None
    verdicts = report["paragraphs"]
    # every paragraph extraction produced, in order
    extracted = extract_html(page.read_text(encoding="utf-8"), "https://news.example.org/port")
    assert extracted is not None
    assert [v["text"] for v in verdicts] == extracted["paragraphs"]
    by_text = [(v["text"].strip(), v["status"], v["rules"]) for v in verdicts]
    assert by_text[-1][0] == PARAGRAPHS[1] and by_text[-1][1] == REMOVED
    assert by_text[-1][2][0].startswith("duplicates:")
    for paragraph in PARAGRAPHS:
        assert (paragraph, KEPT, []) in by_text
    # the text form says the same
    text = run_explain(page, "--url", "https://news.example.org/port")
    assert text.returncode == 0, text.stderr[-2000:]
    lines = text.stdout.splitlines()
    assert lines[0] == f"page: {page}"
    removed = [line for line in lines if " removed duplicates:" in line]
    assert removed[-1].endswith(PARAGRAPHS[1])
    assert sum(" kept " in line for line in lines) == len(PARAGRAPHS)


def test_explain_a_page_without_text(tmp_path: Path) -> None:
    page = tmp_path / "empty.html"
    page.write_text("<html><head><title>x</title></head><body></body></html>")
    result = run_explain(page)
    assert result.returncode == 1
    assert "dropped" in result.stdout and "no article text" in result.stdout
    missing = run_explain(tmp_path / "missing.html")
    assert missing.returncode == 2 and "missing.html" in missing.stderr


def test_explain_a_page_a_later_stage_drops(tmp_path: Path) -> None:
    """One sentence is no article: the quality stage drops it, and explain still shows it."""
    page = tmp_path / "short.html"
    page.write_text(
        "<html lang='en'><head><title>Short note</title></head><body><article>"
        f"<h1>Short note</h1><p>{SHORT}</p></article></body></html>",
        encoding="utf-8",
    )
    result = run_explain(page, "--json")
    assert result.returncode == 1, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["dropped"].startswith("quality:")
    assert [v["text"].strip() for v in report["paragraphs"]][-1] == SHORT
