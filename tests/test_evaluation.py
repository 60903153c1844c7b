"""The shingle metric on tiny hand-made texts (figures worked out by hand in the comments),
and `newscrawl eval` end to end on small datasets built under tmp_path from fixtures."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import trafilatura

from newscrawl.evaluation import (
    Score,
    line_diff,
    score,
    summarize,
    unmatched_lines,
    words,
)
from newscrawl.fixtures import EXPECTED, SITES

ROOT = Path(__file__).resolve().parent.parent
DEMO_PAGES = [
    "ru/2026/11/18/vodoprovod-remont.html",
    "en/2026/11/16/harbor-automation.html",
    "de/2026/11/15/bahnstrecke-ausbau.html",
]


def close(a: Score, precision: float, recall: float, f1: float) -> bool:
    return (a.precision, a.recall, a.f1) == pytest.approx((precision, recall, f1))


# --- metric ------------------------------------------------------------------------------


def test_words_ignore_case_punctuation_and_spacing() -> None:
    assert words("Hello,  World!\nIt’s «ОК»") == ["hello", "world", "it", "s", "ок"]


def test_identical_texts_score_one() -> None:
    text = "The council approved the plan on Tuesday."
    assert close(score(text, text), 1, 1, 1)
    # punctuation and case differences are not word differences
    assert close(score("the COUNCIL approved, the plan on tuesday", text), 1, 1, 1)


def test_one_word_changed() -> None:
    # reference a b c d e f -> shingles abcd bcde cdef; extracted a b c d e x -> abcd bcde cdex
    # common 2: P = 2/3, R = 2/3, F1 = 2/3
    assert close(score("a b c d e x", "a b c d e f"), 2 / 3, 2 / 3, 2 / 3)


def test_noise_added_costs_precision_only() -> None:
    # reference: 1 2 3 4 5 -> {1234, 2345}; extracted adds "6 7" -> {1234, 2345, 3456, 4567}
    # P = 2/4, R = 2/2, F1 = 2 * 0.5 * 1 / 1.5 = 2/3
    assert close(
        score("one two three four five six seven", "one two three four five"), 0.5, 1, 2 / 3
    )


def test_text_lost_costs_recall_only() -> None:
    # reference 1..6 -> 3 shingles; extracted 1..4 -> 1 shingle, which is in the reference
    # P = 1/1, R = 1/3, F1 = 2 * 1 * (1/3) / (4/3) = 0.5
    assert close(score("one two three four", "one two three four five six"), 1, 1 / 3, 0.5)


def test_dropped_and_empty_pages() -> None:
    assert close(score(None, "some reference text here"), 0, 0, 0)  # dropped page
    assert close(score("", "some reference text here"), 0, 0, 0)
    assert close(score("", ""), 1, 1, 1)  # nothing expected, nothing extracted
    assert close(score("leftover text only", ""), 0, 1, 0)


def test_short_text_is_one_shingle() -> None:
    # two words: a single shingle ("breaking", "news") on both sides
    assert close(score("Breaking news", "breaking news!"), 1, 1, 1)
    assert close(score("Breaking", "breaking news"), 0, 0, 0)


def test_shingles_are_a_set_so_a_repeat_costs_only_the_seam() -> None:
    reference = "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10"  # 7 shingles
    # extracted twice: the 7 shingles again plus 3 across the seam (w8 w9 w10 w1,
    # w9 w10 w1 w2, w10 w1 w2 w3): 10 distinct, 7 common -> P = 0.7, R = 1,
    # F1 = 2 * 0.7 / 1.7
    assert close(score(reference + "\n" + reference, reference), 0.7, 1, 1.4 / 1.7)


def test_summary_averages_pages_then_takes_f1() -> None:
    pages = [Score(1.0, 0.5, 2 / 3), Score(0.5, 1.0, 2 / 3), Score(1.0, 1.0, 1.0)]
    summary = summarize(pages)
    # P = (1 + 0.5 + 1) / 3 = 5/6, R = 5/6 likewise, F1 = 5/6; mean page F1 = (2/3+2/3+1)/3
    # = 7/9; accuracy: one page of three has F1 >= 0.99
    assert summary.pages == 3
    assert (summary.precision, summary.recall, summary.f1) == pytest.approx((5 / 6, 5 / 6, 5 / 6))
    assert summary.mean_f1 == pytest.approx(7 / 9)
    assert summary.accuracy == pytest.approx(1 / 3)
    assert summarize([]).pages == 0


def test_line_diff_names_leftover_and_lost_lines() -> None:
    reference = "The bridge will reopen in May after repairs.\nTraffic is diverted via Elm Street."
    extracted = (
        "The bridge will reopen in May after repairs.\n"
        "Subscribe to our Telegram channel for the news.\n"
        "Photo"
    )
    diff = line_diff(extracted, reference)
    assert diff.leftover == ["Subscribe to our Telegram channel for the news.", "Photo"]
    assert diff.lost == ["Traffic is diverted via Elm Street."]
    assert line_diff(None, reference).lost == reference.split("\n")


def test_a_line_repeated_more_often_than_expected_is_leftover() -> None:
    reference = "A quote said once in the article.\nShort line"
    extracted = (
        "A quote said once in the article.\nShort line\n"
        "A quote said once in the article.\nShort line"
    )
    assert unmatched_lines(extracted, reference) == [
        "A quote said once in the article.",
        "Short line",
    ]
    # a line the reference has twice may be extracted twice
    assert unmatched_lines(extracted, extracted) == []


# --- newscrawl eval ---------------------------------------------------------------------


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env["NEWSCRAWL_STATE"] = "memory://"  # no state file, no memory of other runs
    return subprocess.run(
        [sys.executable, "-m", "newscrawl.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def clean_texts(pages: list[Path], cwd: Path) -> dict[str, str]:
    """Each page's text as `newscrawl clean` writes it (an independent run of the pipelines)."""
    out = cwd / "clean.jsonl"
    result = run_cli("clean", *map(str, pages), "-o", str(out), cwd=cwd)
    assert result.returncode == 0, result.stderr[-2000:]
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return {r["source_file"]: r["text"] for r in records}


def baseline_text(page: Path, url: str | None = None) -> str | None:
    return trafilatura.extract(page.read_bytes(), url=url, deduplicate=False)


@pytest.fixture(scope="module")
def pages_dataset(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Pages + expected texts: two demo articles with their golden texts, one with a text
    that has nothing to do with it, a page with no text (dropped), a listing page with no
    expected text."""
    root = tmp_path_factory.mktemp("evalset")
    pages, expected = root / "pages", root / "expected"
    texts = {
        DEMO_PAGES[0]: (EXPECTED / "demo" / DEMO_PAGES[0]).with_suffix(".txt").read_text("utf-8"),
        DEMO_PAGES[1]: (EXPECTED / "demo" / DEMO_PAGES[1]).with_suffix(".txt").read_text("utf-8"),
        DEMO_PAGES[2]: "Completely unrelated words that the page never says anywhere at all.",
        "empty.html": "This page has no text, so newscrawl drops it.",
    }
    for name in DEMO_PAGES:
        (pages / name).parent.mkdir(parents=True, exist_ok=True)
        (pages / name).write_bytes((SITES / "demo" / name).read_bytes())
    (pages / "empty.html").write_text("<html><head><title>x</title></head><body></body></html>")
    (pages / "listing.html").write_bytes((SITES / "demo" / "index.html").read_bytes())
    for name, text in texts.items():
        target = (expected / name).with_suffix(".txt")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    result = run_cli("eval", str(pages), "--expected", str(expected), "--json", cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    text_result = run_cli("eval", str(pages), "--expected", str(expected), cwd=root)
    assert text_result.returncode == 0, text_result.stderr[-3000:]
    return {
        "root": root,
        "pages": pages,
        "texts": texts,
        "json": json.loads(result.stdout),
        "text": text_result.stdout,
    }


def test_eval_pages_per_page_figures(pages_dataset: dict[str, Any]) -> None:
    report = pages_dataset["json"]
    by_name = {p["name"]: p for p in report["pages"]}
    assert sorted(by_name) == sorted([*DEMO_PAGES, "empty.html", "listing.html"])
    # newscrawl's figures are those of `newscrawl clean`'s output, plain trafilatura's those
    # of trafilatura.extract, both scored against the expected text.
    cleaned = clean_texts([pages_dataset["pages"] / n for n in DEMO_PAGES], pages_dataset["root"])
    for name in DEMO_PAGES:
        page = pages_dataset["pages"] / name
        want = pages_dataset["texts"][name]
        ours = score(cleaned[str(page)], want)
        theirs = score(baseline_text(page), want)
        assert by_name[name]["newscrawl"] == pytest.approx(vars(ours)), name
        assert by_name[name]["trafilatura"] == pytest.approx(vars(theirs)), name
    # the golden texts are close, the unrelated text scores nothing
    assert by_name[DEMO_PAGES[0]]["newscrawl"]["f1"] > 0.8
    assert by_name[DEMO_PAGES[2]]["newscrawl"]["f1"] == 0
    assert by_name[DEMO_PAGES[2]]["lost"] == [pages_dataset["texts"][DEMO_PAGES[2]]]
    # a dropped page counts as 0, a page without expected text is not scored
    assert by_name["empty.html"]["dropped"]
    assert by_name["empty.html"]["newscrawl"] == {"precision": 0, "recall": 0, "f1": 0}
    assert by_name["listing.html"]["expected"] is False
    assert "newscrawl" not in by_name["listing.html"]


def test_eval_pages_summary_is_the_average_of_pages(pages_dataset: dict[str, Any]) -> None:
    report = pages_dataset["json"]
    scored = [p for p in report["pages"] if p["expected"]]
    for tool in ("newscrawl", "trafilatura"):
        summary = summarize(Score(**p[tool]) for p in scored)
        assert report[tool] == pytest.approx(summary.as_dict()), tool
    assert report["newscrawl"]["pages"] == 4
    assert report["worst"][:2] == sorted([DEMO_PAGES[2], "empty.html"])


def test_eval_pages_text_report(pages_dataset: dict[str, Any]) -> None:
    text, report = pages_dataset["text"], pages_dataset["json"]
    ours = report["newscrawl"]
    row = next(line for line in text.splitlines() if line.strip().startswith("newscrawl "))
    assert row.split()[1:4] == [f"{ours[k]:.4f}" for k in ("precision", "recall", "f1")]
    assert "dropped by newscrawl (each counted as F1 0): 1" in text
    assert "empty.html:" in text
    assert "no expected text (not scored): 1" in text
    assert "listing.html: kept by newscrawl" in text
    # per page: the unrelated page's whole expected text is a lost line
    assert "    - Completely unrelated words" in text


def test_eval_benchmark_format_passes_each_pages_url(tmp_path: Path) -> None:
    """ground-truth.json + html/<id>.html.gz: the URL of each entry reaches the pipelines."""
    (tmp_path / "html").mkdir()
    truth = {}
    for number, name in enumerate(DEMO_PAGES[:2]):
        key = f"page{number}"
        data = (SITES / "demo" / name).read_bytes()
        (tmp_path / "html" / f"{key}.html.gz").write_bytes(gzip.compress(data))
        body = (EXPECTED / "demo" / name).with_suffix(".txt").read_text("utf-8")
        truth[key] = {"articleBody": body, "url": f"https://news.example.org/{name}"}
    (tmp_path / "ground-truth.json").write_text(json.dumps(truth), encoding="utf-8")
    result = run_cli("eval", str(tmp_path), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert [p["article_url"] for p in report["pages"]] == [t["url"] for t in truth.values()]
    for page in report["pages"]:
        want = truth[page["name"]]["articleBody"]
        gz = tmp_path / "html" / f"{page['name']}.html.gz"
        plain = gzip.decompress(gz.read_bytes())
        theirs = score(trafilatura.extract(plain, url=page["url"], deduplicate=False), want)
        assert page["trafilatura"] == pytest.approx(vars(theirs))
        assert page["newscrawl"]["f1"] > 0.8
    assert report["newscrawl"]["pages"] == 2


def test_eval_errors_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "ground-truth.json").write_text(
        json.dumps({"abc": {"articleBody": "text", "url": "https://example.org/a"}})
    )
    result = run_cli("eval", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2
    assert str(tmp_path / "html" / "abc.html.gz") in result.stderr
    (tmp_path / "ground-truth.json").write_text("{not json")
    result = run_cli("eval", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2
    assert str(tmp_path / "ground-truth.json") in result.stderr
    result = run_cli("eval", str(tmp_path / "nowhere"), "--expected", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2 and "nowhere" in result.stderr


def test_expected_path_and_settings_arguments(tmp_path: Path) -> None:
    from newscrawl.commands.eval import expected_path, parse_settings

    pages, expected = tmp_path / "pages", tmp_path / "expected"
    assert expected_path(pages / "ru" / "a.html.gz", pages, expected) == expected / "ru" / "a.txt"
    assert expected_path(pages / "b.htm", pages, expected) == expected / "b.txt"
    assert parse_settings(["A=1", "B=x=y"]) == {"A": "1", "B": "x=y"}
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_settings(["NOVALUE"])
