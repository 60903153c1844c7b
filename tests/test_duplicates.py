"""The pure duplicate-paragraph function: one small input per rule, asserting the rule."""

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
