"""The pure duplicate-paragraph function: one small input per rule, asserting the rule."""

import pytest

from pipelines import duplicates
from pipelines.duplicates import fingerprint, remove_duplicates

BODY = [
    "The council approved the budget on Tuesday after a long debate.",
    "Opposition members said the plan underfunds schools.",
]


def test_exact_repeat_removed_first_kept():
    kept, removed = remove_duplicates([*BODY, BODY[0]])
    assert kept == BODY
    assert removed == [("exact", BODY[0])]


def test_normalized_repeat_case_spacing_punctuation_quotes_dashes():
    first = "«Мы готовы», — сказал министр."
    again = '"мы  готовы" - Сказал министр'
    kept, removed = remove_duplicates([first, "Другой абзац текста.", again])
    assert kept == [first, "Другой абзац текста."]
    assert removed == [("normalized", again)]


def test_title_echoed_in_body_removed():
    title = "Council approves budget"
    kept, removed = remove_duplicates(["Council approves budget.", *BODY], title=title)
    assert kept == BODY
    assert removed == [("title", "Council approves budget.")]


def test_order_kept_and_distinct_paragraphs_untouched():
    kept, removed = remove_duplicates(list(reversed(BODY)))
    assert kept == list(reversed(BODY))
    assert removed == []


def test_fingerprint_folds_variants():
    assert fingerprint("It’s “fine” — really!") == fingerprint('it\'s "FINE" - really')


# --- near-identical, re-split, lead, structured content -----------------------------------

LONG = (
    "The city council approved the new transport budget on Tuesday evening after a debate "
    "that lasted more than six hours and ended in a narrow vote."
)


def test_near_identical_paragraph_removed():
    typo = LONG.replace("approved", "aproved").replace("narrow", "narow")
    kept, removed = remove_duplicates([LONG, BODY[1], typo])
    assert kept == [LONG, BODY[1]]
    assert removed == [("near", typo)]


def test_near_rule_keeps_rows_with_different_numbers():
    first = "Loan of 500 000 tenge for 12 months at 20 percent gives a monthly payment of 46 300."
    second = "Loan of 500 000 tenge for 12 months at 21 percent gives a monthly payment of 46 600."
    kept, removed = remove_duplicates([first, second])
    assert kept == [first, second]
    assert removed == []


def test_short_paragraphs_are_not_compared_fuzzily():
    _kept, removed = remove_duplicates(["Photo: Reuters", "Photo: Reuters/AP"])
    assert removed == []


def test_block_repeated_as_one_paragraph_removed():
    parts = [
        "The first sentence of the story is here and it is long enough.",
        "Then the second one follows with more detail about the event.",
        "Finally a third sentence closes the short news item for good.",
    ]
    merged = " ".join(parts)
    kept, removed = remove_duplicates([*parts, merged])
    assert kept == parts
    assert removed == [("resplit", merged)]


def test_block_repeated_as_three_paragraphs_removed():
    parts = [
        "The first sentence of the story is here and it is long enough.",
        "Then the second one follows with more detail about the event.",
        "Finally a third sentence closes the short news item for good.",
    ]
    merged = " ".join(parts)
    kept, removed = remove_duplicates([merged, *parts])
    assert kept == [merged]
    assert [rule for rule, _ in removed] == ["resplit"] * 3


def test_description_echoed_inside_first_paragraph_removed():
    description = "The council approved the budget after a long debate"
    body = f"{description}, officials said on Wednesday. Schools get more money next year."
    kept, removed = remove_duplicates([description + ".", body], description=description)
    assert kept == [body]
    assert removed == [("lead", description + ".")]


def test_reworded_description_teaser_goes_and_body_version_stays():
    description = (
        "The quarter's earnings were not a complete disappointment, with most of the "
        "companies reporting in-line or better-than-expected results."
    )
    body = (
        "The quarter's earnings were not a complete disappointment, as most of the "
        "companies reported in-line or better than expected results."
    )
    kept, removed = remove_duplicates([description, BODY[0], body], description=description)
    assert kept == [BODY[0], body]
    assert removed == [("lead", description)]


def test_teaser_cut_with_ellipsis_removed():
    teaser = "The city council approved the new transport budget on Tuesday evening…"
    kept, removed = remove_duplicates([teaser, LONG])
    assert kept == [LONG]
    assert removed == [("lead", teaser)]


@pytest.mark.parametrize("scan_max", [duplicates.SCAN_MAX_PARAGRAPHS, 0])
def test_teaser_found_inside_its_container_by_scan_and_by_index(
    monkeypatch: pytest.MonkeyPatch, scan_max: int
) -> None:
    # Short pages search every paragraph; long ones (here: any) go through the trigram
    # index. Both find the container; a paragraph sharing only the teaser's first and
    # last words is not one.
    monkeypatch.setattr(duplicates, "SCAN_MAX_PARAGRAPHS", scan_max)
    teaser = "The city council approved the new transport budget on Tuesday evening…"
    decoy = "The city council met again; nothing was decided on Tuesday evening."
    kept, removed = remove_duplicates([teaser, decoy, LONG])
    assert kept == [decoy, LONG]
    assert removed == [("lead", teaser)]
    kept, removed = remove_duplicates([teaser, decoy])
    assert kept == [teaser, decoy]
    assert removed == []


def test_subheading_quoting_the_paragraph_below_is_kept():
    heading = "«We will not raise fares this year»"
    body = "«We will not raise fares this year», the mayor said, «and maybe not the next»."
    kept, _removed = remove_duplicates([heading, body])
    assert kept == [heading, body]


def test_equal_rows_in_two_worked_examples_are_content():
    paragraphs = [
        "Example 1: a teacher from Kostanay",
        "Salary: 350 000 tenge.",
        "Experience: 14 years.",
        "She has worked at the same school since 2007 and likes it there very much.",
        "Example 2: a teacher from Karaganda",
        "Salary: 140 000 tenge.",
        "Experience: 14 years.",
        "He repairs the office equipment of the school himself and pays for paper.",
    ]
    kept, removed = remove_duplicates(paragraphs)
    assert kept == paragraphs
    assert removed == []


def test_rows_of_a_body_printed_twice_are_removed():
    paragraphs = [
        "Salary: 350 000 tenge.",
        LONG,
        "Experience: 14 years.",
    ]
    kept, removed = remove_duplicates(paragraphs + paragraphs)
    assert kept == paragraphs
    assert [rule for rule, _ in removed] == ["exact"] * 3


def test_title_followed_by_site_name_removed():
    title = "Council approves budget | The Daily Example"
    kept, removed = remove_duplicates(["Council approves budget", *BODY], title=title)
    assert kept == BODY
    assert removed == [("title", "Council approves budget")]


def test_many_paragraphs_are_not_compared_pairwise():
    import time

    paragraphs = [
        f"Line {i} of a long generated page tells about item {i * 7} in some detail here."
        for i in range(5000)
    ]
    started = time.perf_counter()
    kept, _removed = remove_duplicates(paragraphs)
    assert kept == paragraphs
    assert time.perf_counter() - started < 3.0


def test_the_same_long_question_put_to_each_person_is_content() -> None:
    question = (
        "Which cuisine do you like yourself, and are there dishes or products that you "
        "would never cook at home for your family or friends?"
    )
    paragraphs = [
        "Anna Petrova, food blogger",
        question,
        "I love Asian food and cook it every week, even when there is no time at all.",
        "Oleg Ilyin, food blogger",
        question,
        "Mostly soups: my grandmother taught me, and I still follow her recipes closely.",
    ]
    kept, removed = remove_duplicates(paragraphs)
    assert kept == paragraphs and removed == []


def test_a_long_question_printed_twice_with_its_answer_goes() -> None:
    question = (
        "Which cuisine do you like yourself, and are there dishes or products that you "
        "would never cook at home for your family or friends?"
    )
    answer = "I love Asian food and cook it every week, even when there is no time at all."
    kept, removed = remove_duplicates(["Intro line of the interview here.", question, answer,
                                       "Next part.", question, answer])  # fmt: skip
    assert kept == ["Intro line of the interview here.", question, answer, "Next part."]
    assert [rule for rule, _ in removed] == ["exact", "exact"]


def test_caption_printed_again_in_the_body_goes() -> None:
    caption = "Residents watch the river rise in Almenara on Friday."
    body = [
        "The river burst its banks overnight.",
        "Residents watch the river rise in Almenara on Friday",
        "Schools stayed closed.",
    ]
    kept, removed = remove_duplicates(body, captions=[f"{caption} Photo: EFE/Juan Ruiz"])
    assert kept == [body[0], body[2]]
    assert removed == [("caption", body[1])]


def test_long_paragraph_opening_like_a_caption_stays() -> None:
    caption = "The mayor at the opening"
    body = [
        "The mayor at the opening " + "said the bridge would carry ten thousand cars a day. " * 8
    ]
    kept, removed = remove_duplicates(body, captions=[caption])
    assert kept == body and removed == []


@pytest.mark.parametrize(
    "paragraph",
    [
        "The council met on Tuesday...",
        "The council met on Tuesday…",
        "«The council met on Tuesday…»",
        "The council met on Tuesday… » ",
        "The council met on Tuesday...»»",
        "The council met on Tuesday…\n",
        "The council met on Tuesday.",
        "Wait... the council met on Tuesday",
    ],
)
def test_ellipsis_shortcut_answers_as_its_regex(paragraph: str) -> None:
    expected = duplicates._ELLIPSIS_END.search(paragraph) is not None
    assert duplicates._ends_with_ellipsis(paragraph) == expected
