"""The widgets stage: one tiny input per rule asserting the rule, and both sides of each
tricky decision (content that looks like noise must stay)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from scrapy.utils.test import get_crawler

from newscrawl.items import Article
from pipelines import widgets
from pipelines.widgets import (
    KINDS,
    RULES_DIR,
    RuleError,
    WidgetsPipeline,
    available_packs,
    load_pack,
    number_line,
    packs_for,
    remove_widgets,
)

PROSE = {
    "ru": "Депутаты одобрили законопроект во втором чтении после долгого обсуждения в комитете.",
    "en": "The council approved the new transport budget on Tuesday after a long debate.",
    "de": "Der Stadtrat hat den neuen Haushalt am Dienstag nach langer Debatte beschlossen.",
    "fr": "Le conseil municipal a adopté le nouveau budget mardi après un long débat.",
    "es": "El pleno aprobó el nuevo presupuesto el martes tras un largo debate.",
    "uk": "Депутати ухвалили законопроєкт у другому читанні після тривалого обговорення.",
    "kk": "Депутаттар заң жобасын ұзақ талқылаудан кейін екінші оқылымда мақұлдады.",
}


def rules(paragraph: str, language: str | None = None, **kwargs: str) -> list[str]:
    """The rules that removed `paragraph` (placed between two prose paragraphs)."""
    prose = PROSE.get(language or "en", PROSE["en"])
    kept, removed = remove_widgets([prose, paragraph, prose], language, **kwargs)
    assert kept.count(prose) == 2, "prose around the widget must stay"
    return [rule for rule, _ in removed]


# --- one tiny input per pack rule ------------------------------------------------------------

CASES = [
    # (language, paragraph, rule)
    ("ru", "ПОДЕЛИТЬСЯ", "share"),
    ("ru", "Наши новости теперь в WhatsApp! Подписывайтесь на канал.", "subscribe"),
    ("ru", "Подписывайтесь на наш Telegram-канал — там все главные новости.", "subscribe"),
    ("ru", "Посмотреть эту публикацию в Instagram", "embed"),
    ("ru", "Читайте также: В Астане открыли новый мост", "read-also"),
    ("ru", "Фото: Турар Казангапов/Tengrinews.kz", "credit"),
    ("ru", "Текст: Эльдар Нуруллин.", "credit"),
    ("ru", "Курс валют", "rates"),
    ("ru", "Погода в Астане", "weather"),
    ("ru", "На правах рекламы", "ads"),
    ("ru", "Мы используем файлы cookie, чтобы сайт работал лучше.", "cookies"),
    ("ru", "Подпишитесь на нашу рассылку и получайте главное за неделю.", "newsletter"),
    ("ru", "Комментарии: 14", "comments"),
    ("ru", "Нашли ошибку? Выделите её и нажмите Ctrl+Enter", "typo"),
    ("ru", "Скачайте наше приложение: новости всегда под рукой.", "app"),
    ("ru", "© 2026 «Финансы сегодня». Все права защищены.", "footer"),
    ("ru", "Редакция Реклама", "footer"),
    ("ru", "Главная / Новости / Общество", "breadcrumbs"),
    ("kk", "Бөлісу", "share"),
    ("kk", "Жаңалықтарымыз енді WhatsApp-та! Жазылыңыз – сілтеме", "subscribe"),
    (
        "kk",
        "Маңызды жаңалықтарды бірінші болып білу үшін Telegram арнамызға жазылыңыз.",
        "subscribe",
    ),
    ("kk", "Сондай-ақ оқыңыз: Жітіқарада жаңа емхана ашылды", "read-also"),
    ("kk", "Қате таптыңыз ба? Оны белгілеп, Ctrl+Enter басыңыз", "typo"),
    ("kk", "Ауа райы", "weather"),
    ("uk", "Поділитися", "share"),
    ("uk", "Підписуйтесь на наш Telegram-канал, щоб першими дізнаватися новини!", "subscribe"),
    ("uk", "Читайте також: У Львові відкрили оновлений парк", "read-also"),
    ("uk", "Помітили помилку? Виділіть її та натисніть Ctrl+Enter", "typo"),
    ("uk", "Завантажуйте наш застосунок для Android та iOS.", "app"),
    ("en", "Share this article", "share"),
    ("en", "Join Telegram", "subscribe"),
    ("en", "Follow us on Telegram for breaking news from Portland.", "subscribe"),
    ("en", "View this post on Instagram", "embed"),
    ("en", "A post shared by City Parks (@cityparks)", "embed"),
    ("en", "Read more: Council approves new budget", "read-also"),
    ("en", "Related stories", "read-also"),
    ("en", "You may also like...", "read-also"),
    ("en", "[Related: Council approves new budget]", "read-also"),
    ("en", "(Reporting by Jane Doe; Editing by John Roe)", "credit"),
    ("en", "Pick Six Newsletter", "newsletter"),
    ("en", "(Photo by Dana Whitfield/The Portland Ledger)", "credit"),
    ("en", "Getty Images", "credit"),
    ("en", "Advertisement", "ads"),
    ("en", "We use cookies to improve your experience on our site.", "cookies"),
    ("en", "Sign up for our weekly newsletter.", "newsletter"),
    ("en", "Get smarter about your money. Sign up for our weekly newsletter.", "newsletter"),
    ("en", "12 comments", "comments"),
    ("en", "Download our app for breaking news alerts on iPhone and Android.", "app"),
    ("en", "Copyright 2026 Desert Sun Times. All rights reserved.", "footer"),
    ("en", "Home › News › Politics", "breadcrumbs"),
    ("en", "Weather", "weather"),
    ("en", "Exchange rates", "rates"),
    ("en", "Live prices", "tickers"),
    ("de", "Artikel teilen", "share"),
    (
        "de",
        "Folgen Sie uns auf WhatsApp: Die wichtigsten Nachrichten direkt aufs Handy.",
        "subscribe",
    ),
    ("de", "Lesen Sie auch: Containerhafen meldet Rekordumschlag", "read-also"),
    ("de", "Foto: dpa/Sina Schuldt", "credit"),
    ("de", "Anzeige", "ads"),
    ("de", "Wir verwenden Cookies, um Inhalte zu personalisieren.", "cookies"),
    ("de", "Jetzt Newsletter abonnieren", "newsletter"),
    ("de", "23 Kommentare", "comments"),
    ("de", "© Weser-Kurier 2026 – Alle Rechte vorbehalten", "footer"),
    ("de", "Wetter", "weather"),
    ("fr", "Partager", "share"),
    ("fr", "Suivez-nous sur Telegram pour ne rien manquer de l'actualité.", "subscribe"),
    ("fr", "Lire aussi : Le tramway prolongé jusqu'à la gare", "read-also"),
    ("fr", "Photo : AFP / Sébastien Bozon", "credit"),
    ("fr", "Vous avez repéré une erreur ? Signalez-la à notre rédaction.", "typo"),
    ("fr", "Publicité", "ads"),
    ("fr", "Météo", "weather"),
    ("es", "Compartir", "share"),
    ("es", "Síguenos en WhatsApp y recibe las noticias más importantes.", "subscribe"),
    ("es", "Lee también: El puerto bate su récord de cruceros", "read-also"),
    ("es", "Foto: EFE / A. Carrasco Ragel", "credit"),
    ("es", "23 comentarios", "comments"),
    ("es", "Descarga la app de Diario de la Costa, disponible en iOS y Android.", "app"),
    ("es", "El tiempo", "weather"),
]


@pytest.mark.parametrize(("language", "paragraph", "rule"), CASES)
def test_pack_rule(language: str, paragraph: str, rule: str) -> None:
    assert rules(paragraph, language) == [rule]


def test_every_category_of_the_issue_has_a_rule_in_every_language_pack() -> None:
    wanted = {"share", "subscribe", "read-also", "credit", "rates", "weather", "ads", "cookies",
              "newsletter", "comments", "typo", "app", "footer", "breadcrumbs"}  # fmt: skip
    for language in ("ru", "kk", "uk", "en", "de", "fr", "es"):
        categories = {rule.category for rule in available_packs()[language][0]}
        assert wanted <= categories, (language, wanted - categories)


# --- language-free detectors -----------------------------------------------------------------


def test_number_dense_ticker_line() -> None:
    assert rules("USD 509,12 +0,45") == ["numbers"]
    assert rules("DOW 38,912.45 ▲ 0.3%") == ["numbers"]
    assert rules("506.65 course up 593.07 course up 6.55 course down") == ["numbers"]


def test_temperature_line() -> None:
    assert rules("Algeciras 19° Soleado", "es") == ["numbers"]


def test_lone_letter_and_alphabet_index() -> None:
    assert rules("А", "ru") == ["letters"]
    assert rules("А Б В Г Д", "ru") == ["letters"]


def test_weather_box_city_names_go_with_the_box() -> None:
    box = ["Погода", "location-current", "Алматы", "А", "Алматы -10", "Астана -12", "Б"]
    kept, removed = remove_widgets([PROSE["ru"], *box, PROSE["ru"]], "ru")
    assert kept == [PROSE["ru"], PROSE["ru"]]
    assert [rule for rule, _ in removed] == [
        "weather", "box", "box", "letters", "numbers", "numbers", "letters"
    ]  # fmt: skip


def test_run_of_short_lines_at_the_end_is_an_edge() -> None:
    tail = ["Politics", "Budget", "City council"]
    kept, removed = remove_widgets([PROSE["en"], PROSE["en"], *tail], "en")
    assert kept == [PROSE["en"], PROSE["en"]]
    assert removed == [("edge", line) for line in tail]


def test_site_name_line() -> None:
    assert rules("Tengrinews", "ru", site="tengrinews.kz") == ["site-name"]
    assert rules("Desert Sun Times", site_name="Desert Sun Times") == ["site-name"]


def test_title_with_a_glued_credit_is_removed_whole() -> None:
    title = "МВД стран ТС работают над созданием евразийской полиции"
    assert rules(f"{title} Фото ©Даниал Окасов", "ru", title=title) == ["credit"]


def test_label_takes_the_keyword_list_after_it() -> None:
    body = [PROSE["en"], "Tags", "stock car, racing calendar, Interlagos", PROSE["en"]]
    kept, removed = remove_widgets(body, "en")
    assert kept == [PROSE["en"], PROSE["en"]]
    assert [rule for rule, _ in removed] == ["tags", "tags"]


def test_read_also_label_takes_the_headlines_after_it_but_not_prose() -> None:
    body = [PROSE["en"], "Don't miss", "Plague fears grow in Beijing [INSIGHT]", PROSE["en"]]
    kept, removed = remove_widgets(body, "en")
    assert kept == [PROSE["en"], PROSE["en"]]
    assert [rule for rule, _ in removed] == ["read-also", "read-also"]


def test_tags_line_with_label() -> None:
    assert rules("Теги: Астана, снег, коммунальные службы", "ru") == ["tags"]


# --- fragments: a credit glued to text -------------------------------------------------------


def test_credit_glued_to_a_long_paragraph_is_cut_and_the_text_kept() -> None:
    text = (
        "Workers repaired the bridge deck over three weekends while traffic was diverted "
        "to the old ferry road, which had not been used for years"
    )
    kept, removed = remove_widgets([f"{text} (Photo by Dana Whitfield/AP)"], "en")
    assert kept == [text]
    assert removed == [("credit", "(Photo by Dana Whitfield/AP)")]


def test_caption_with_a_credit_goes_whole() -> None:
    caption = "Уборка снега на проспекте Республики. Фото: Тимур Алиев"
    kept, removed = remove_widgets([PROSE["ru"], caption], "ru")
    assert kept == [PROSE["ru"]]
    assert removed == [("credit", caption)]


def test_rules_never_cut_inside_a_sentence() -> None:
    text = "The photo: a crowd at the gate, taken by a reader, shows how long the queue was."
    kept, removed = remove_widgets([text], "en")
    assert kept == [text] and removed == []


# --- adversarial: content that looks like noise stays -----------------------------------------


def test_prose_read_also_stays_and_the_link_line_goes() -> None:
    prose = (
        "Читайте также приложения к договору: акт приема-передачи и опись имущества. Именно "
        "в них чаще всего прячутся условия о штрафах, — добавил юрист."
    )
    link = "Читайте также: Предприниматели будут отчитываться раз в год"
    kept, removed = remove_widgets([PROSE["ru"], link, prose], "ru")
    assert kept == [PROSE["ru"], prose]
    assert removed == [("read-also", link)]


def test_english_prose_read_also_stays() -> None:
    prose = "Read also the commission's report, which found that the budget was never audited."
    kept, removed = remove_widgets([PROSE["en"], prose], "en")
    assert kept == [PROSE["en"], prose] and removed == []


def test_bare_finance_subheadings_stay() -> None:
    for heading, language in [
        ("Stocks", "en"),
        ("Markets", "en"),
        ("Валюта", "ru"),
        ("Bolsa", "es"),
    ]:
        _kept, removed = remove_widgets([PROSE[language], heading, PROSE[language]], language)
        assert removed == [], heading


def test_table_of_rates_stays_while_the_ticker_goes() -> None:
    body = [
        "Тенге по итогам недели укрепился ко всем основным валютам, сообщили на бирже.",
        "Официальные курсы Национального банка, тенге за единицу валюты:",
        "| Валюта | 17 ноября | 21 ноября | Изменение |",
        "| Доллар США | 509,12 | 503,40 | −5,72 |",
        "| Евро | 592,40 | 586,95 | −5,45 |",
        "В обменных пунктах доллар продавали в среднем по 505 тенге, евро — по 590 тенге.",
    ]
    ticker = "Курс валют: USD 503.40 ▼ EUR 586.95 ▼ RUB 6.31 ▼"
    kept, removed = remove_widgets([body[0], ticker, *body[1:]], "ru")
    assert kept == body
    assert removed == [("numbers", ticker)]


def test_forecast_list_introduced_by_a_colon_stays() -> None:
    body = [
        "В выходные на север придет арктический воздух, предупреждают синоптики.",
        "Прогноз на субботу по крупным городам:",
        "Астана: ночью −22…−24°, днем −15…−17°",
        "Караганда: ночью −20…−22°, днем −14…−16°",
        "Павлодар −25°",
        "В понедельник морозы на севере ослабнут, но ветер сохранится.",
    ]
    kept, removed = remove_widgets(body, "ru")
    assert kept == body and removed == []


def test_the_same_city_line_outside_a_list_is_a_widget() -> None:
    assert rules("Павлодар −25°", "ru") == ["numbers"]


def test_list_of_short_items_stays() -> None:
    body = [
        "Before signing, financial planners suggest a few checks:",
        "Get preapproved",
        "Compare the total cost",
        "Ask about penalties",
    ]
    kept, removed = remove_widgets([PROSE["en"], *body], "en")
    assert kept == [PROSE["en"], *body] and removed == []


def test_label_value_rows_with_prices_are_content() -> None:
    rows = ["Loan amount: $20,000", "Interest rate: 7.5% APR", "Term: 60 months"]
    kept, removed = remove_widgets([PROSE["en"], *rows, PROSE["en"]], "en")
    assert kept == [PROSE["en"], *rows, PROSE["en"]] and removed == []


def test_deal_lines_with_one_price_are_content() -> None:
    assert number_line("Apple AirPods Pro for $235") is None
    assert number_line("USD 41,25 ↑") == "signed"


def test_run_of_short_items_ending_the_article_after_a_colon_stays() -> None:
    items = ["Salt", "Pepper", "Olive oil"]
    body = [PROSE["en"], "You will need:", *items]
    kept, removed = remove_widgets(body, "en")
    assert kept == body and removed == []


# --- packs: data files, compiled once ---------------------------------------------------------


def test_packs_for_a_language_and_for_an_unknown_one() -> None:
    assert packs_for("de") == ("common", "de", "en")
    assert packs_for("kk") == ("common", "en", "kk", "ru")  # Kazakh sites carry Russian UI
    assert packs_for(None) == tuple(sorted(available_packs()))
    assert packs_for("it") == tuple(sorted(available_packs()))
    assert packs_for("en") == tuple(sorted(available_packs()))  # English too: docs/cleaning.md


def test_every_pack_loads_and_names_its_rules() -> None:
    for path in RULES_DIR.glob("*.toml"):
        loaded, _ = load_pack(path)
        assert loaded, path
        assert all(rule.kind in KINDS and rule.category for rule in loaded)


def test_a_malformed_pack_names_the_file_and_rule(tmp_path: Path) -> None:
    bad = tmp_path / "xx.toml"
    bad.write_text('[[rule]]\ncategory = "share"\nkind = "line"\npatterns = ["(unclosed"]\n')
    with pytest.raises(RuleError, match=r"xx\.toml rule 1 \(share\)"):
        load_pack(bad)


def test_a_characters_own_rule_subset_gives_the_verdicts_of_the_full_alternation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A frequent character gets its own compiled subset of the rules (Matcher._at); a rare
    # one is tried against every rule. Both must remove the same paragraphs by the same rule.
    paragraphs = [text for _, text, _ in CASES] + list(PROSE.values())
    # later sentences, other first characters and cases
    paragraphs += [f"Vote. {text}" for text in paragraphs] + [t.lower() for t in paragraphs]
    build = widgets.matcher_for.__wrapped__  # fresh matchers: matcher_for keeps one per set
    for language in (None, *available_packs()):
        subsets, full = build(packs_for(language)), build(packs_for(language))
        for text in paragraphs:
            words = len(text.split())
            monkeypatch.setattr(widgets, "SUBSET_AFTER_USES", 1)
            with_subsets = subsets.whole(text, words)
            monkeypatch.setattr(widgets, "SUBSET_AFTER_USES", 10**9)
            assert with_subsets == full.whole(text, words), (language, text)
        assert subsets._by_subset and not full._by_subset  # each path really ran


def test_a_long_page_is_cheap() -> None:
    paragraphs = [f"{PROSE['en']} Item {i} of the list." for i in range(2000)]
    started = time.perf_counter()
    kept, _ = remove_widgets(paragraphs, None)  # unknown language: every pack
    assert kept == paragraphs
    assert time.perf_counter() - started < 3.0


# --- the Scrapy glue ---------------------------------------------------------------------------


def test_pipeline_records_rules_and_counts_stats() -> None:
    crawler = get_crawler()
    crawler.stats.open_spider()  # type: ignore[union-attr]
    stage = WidgetsPipeline.from_crawler(crawler)
    url = "http://news.example/a"
    article = Article(url, url, url, "news.example", None, "Title", [PROSE["en"], "Advertisement"])
    article.language = "en"
    out = stage.process_item(article)
    assert out.paragraphs == [PROSE["en"]]
    assert out.cleaning == {"widgets:ads": 1}
    assert crawler.stats.get_value("newscrawl/removed/widgets:ads") == 1  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "paragraph",
    [
        "A crowd outside the court. Photo by REUTERS",
        "Firefighters at the scene (Getty Images/AFP)",
        "The minister said the report was important and would be published in part.",
        "Der Bürgermeister sprach von einem Erfolg",
        "Tourists on the beach. \u212aeystone/dpa",  # Kelvin sign: re.I reads it as "k"
        "Protesters in the capital. Photo: EPA",
        "Crowds gathered in the square on Sunday evening and stayed until late at night",
        "Ein Bild \u017fhutterstock",  # long s: re.I reads it as "s"
    ],
)
def test_tail_gate_answers_as_its_regex(paragraph: str) -> None:
    # The gate is a shortcut: whenever it says no, the full search must say no too.
    for window in (0, max(0, len(paragraph) - widgets.FRAGMENT_MAX_CHARS), len(paragraph) // 2):
        expected = bool(widgets._TAIL_GATE.search(paragraph, window))
        assert widgets._tail_gate(paragraph, window) == expected, (paragraph, window)
