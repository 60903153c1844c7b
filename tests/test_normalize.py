from pipelines.normalize import normalize_paragraphs, normalize_text


def test_nfc_nbsp_zero_width_and_spacing():
    decomposed = "e\u0301te\u0301"  # é as e + combining accent
    assert normalize_text(f"  {decomposed}\u00a0de\u200b la\tville  ") == "été de la ville"


def test_empty_paragraphs_removed_with_rule():
    kept, removed = normalize_paragraphs(["One.", "\u00a0 \u200b", "Two."])
    assert kept == ["One.", "Two."]
    assert removed == [("empty", "\u00a0 \u200b")]
