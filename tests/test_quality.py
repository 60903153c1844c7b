"""The quality stage: each drop reason on a tiny input, and the articles that must pass."""

from __future__ import annotations

import pytest
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from newscrawl.config import SettingError
from newscrawl.items import Article
from pipelines.quality import MIN_WORDS, QualityPipeline, quality_verdict

SENTENCE = "The council approved the new transport budget on Tuesday after a long debate."
WORDS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "11", "12"]
NUMBER_WORDS = [*WORDS[:10], "eleven", "twelve"]
HEADLINES = [
    f"Headline number {word} about the city council and its budget" for word in NUMBER_WORDS
]
TEASERS = [
    f"Teaser {word} of a story that is cut in the middle of its sentence because the"
    for word in NUMBER_WORDS
]


def test_empty_body() -> None:
    assert quality_verdict([]) == "empty"


def test_too_short() -> None:
    assert quality_verdict(["Only a caption here."]) == "too-short"


def test_a_short_brief_is_an_article() -> None:
    brief = [SENTENCE, "Opposition members said the plan underfunds schools."]
    assert sum(len(p.split()) for p in brief) >= MIN_WORDS
    assert quality_verdict(brief) is None


def test_min_words_is_a_parameter() -> None:
    assert quality_verdict([SENTENCE], min_words=100) == "too-short"
    assert quality_verdict(["Two words."], min_words=0) is None


def test_listing_page_of_headlines_and_cut_teasers() -> None:
    listing = [line for pair in zip(HEADLINES, TEASERS, strict=True) for line in pair]
    assert quality_verdict(listing) == "listing"


def test_article_with_subheadings_is_not_a_listing() -> None:
    body = [
        line
        for n, headline in enumerate(HEADLINES)
        for line in (headline, f"{SENTENCE} Point {n} was discussed at length by the members.")
    ]
    assert quality_verdict(body) is None


def test_table_or_schedule_page_is_not_a_listing() -> None:
    rows = [f"| {n} | Driver {n} | {5000 - n} |" for n in range(30)]
    assert quality_verdict(["Standings after round 36:", *rows]) is None
    schedule = [f"Round {n}: {n} March – Interlagos circuit" for n in range(1, 13)]
    assert quality_verdict(["Stock Car 2018 calendar", *schedule]) is None


def test_structured_page_with_recurring_lines_is_not_a_listing() -> None:
    day = ["Pre-Workout Meal Eat Before Training", "Asparagus And Eggs With Sweet Potato",
           "Post-Workout Meal Eat After Training"]  # fmt: skip
    plan = [f"Meal Prep Menu For Eating Plan {letter}" for letter in "ABCD"]
    body = [line for title in plan for line in (title, *day)]
    assert quality_verdict(body) is None


def article(paragraphs: list[str]) -> Article:
    url = "http://news.example/a"
    return Article(url, url, url, "news.example", None, "Title", paragraphs)


def test_pipeline_drops_with_reason_and_counts() -> None:
    crawler = get_crawler()
    crawler.stats.open_spider()  # type: ignore[union-attr]
    stage = QualityPipeline.from_crawler(crawler)
    with pytest.raises(DropItem, match="quality:too-short"):
        stage.process_item(article(["Only a caption here."]))
    assert crawler.stats.get_value("newscrawl/dropped/quality:too-short") == 1  # type: ignore[union-attr]
    body = [SENTENCE, SENTENCE + " Again."]
    assert stage.process_item(article(body)).paragraphs == body


def test_min_words_setting() -> None:
    crawler = get_crawler(settings_dict={"NEWSCRAWL_MIN_WORDS": "100"})
    stage = QualityPipeline.from_crawler(crawler)
    with pytest.raises(DropItem, match="quality:too-short"):
        stage.process_item(article([SENTENCE, SENTENCE]))


def test_bad_min_words_setting_names_it() -> None:
    with pytest.raises(SettingError, match="NEWSCRAWL_MIN_WORDS"):
        QualityPipeline.from_crawler(get_crawler(settings_dict={"NEWSCRAWL_MIN_WORDS": "many"}))
