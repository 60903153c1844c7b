"""Decoding fetched HTML when the page does not say its charset.

Scrapy (w3lib) honours, in order, the HTTP header charset, a byte-order mark and the
`<meta>` charset; only when all are missing does it guess, trying ASCII and UTF-8 and
then charset_normalizer. That statistical guess is weak on short pages: a ten-word
KOI8-R page can come out as Shift-JIS. Russian-language news sites are where undeclared
legacy charsets still live, and the two single-byte Cyrillic charsets in use
(windows-1251 and KOI8-R) are easy to tell apart without statistics: both put Cyrillic
letters in the high half, but with upper and lower case swapped. Real prose is mostly
lower case, so the right decoding is the one with mostly lower-case Cyrillic letters in
single-script words. That check is what `legacy_cyrillic_encoding` does; everything else
stays with Scrapy.
"""

from __future__ import annotations

import re

from scrapy.http import TextResponse
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom

# Single-byte Cyrillic charsets still served without a declaration, most common first.
LEGACY_CYRILLIC = ("cp1251", "koi8-r")
# Share of the non-ASCII letters that must be Cyrillic: a Western page (é, ü) decoded as
# cp1251 also gives Cyrillic letters, but the mixed-word check below rejects it.
MIN_CYRILLIC_SHARE = 0.8
# Russian prose is ~90% lower case; the case-swapped wrong decoding is ~10%. 0.6 leaves
# room for headlines in capitals without accepting the swapped one.
MIN_LOWER_SHARE = 0.6
# Cyrillic letters inside words that also hold Latin letters ("cafй") mean the bytes were
# Latin text; a few are tolerated (brand names, typos).
MAX_MIXED_SHARE = 0.1

_WORD = re.compile(r"\w+")
_LATIN = re.compile(r"[A-Za-z]")


def _is_cyrillic(char: str) -> bool:
    return "\u0400" <= char <= "\u04ff"


def cyrillic_plausibility(text: str) -> tuple[float, float, float]:
    """(Cyrillic share of non-ASCII letters, lower-case share, mixed-script share)."""
    non_ascii = cyrillic = lower = mixed = 0
    for word in _WORD.findall(text):
        has_latin = bool(_LATIN.search(word))
        for char in word:
            if char.isascii() or not char.isalpha():
                continue
            non_ascii += 1
            if _is_cyrillic(char):
                cyrillic += 1
                lower += char.islower()
                mixed += has_latin
    if not cyrillic:
        return 0.0, 0.0, 0.0
    return cyrillic / non_ascii, lower / cyrillic, mixed / cyrillic


def legacy_cyrillic_encoding(body: bytes) -> str | None:
    """windows-1251 or KOI8-R when the bytes read as plausible Cyrillic prose in one, else None."""
    best: tuple[float, str] | None = None
    for encoding in LEGACY_CYRILLIC:
        share, lower, mixed = cyrillic_plausibility(body.decode(encoding, errors="replace"))
        plausible = (
            share >= MIN_CYRILLIC_SHARE and lower >= MIN_LOWER_SHARE and mixed <= MAX_MIXED_SHARE
        )
        if plausible and (best is None or lower > best[0]):
            best = (lower, encoding)
    return best[1] if best else None


def declared_encoding(body: bytes, content_type: str) -> str | None:
    """The charset the server or the page declares (header, BOM, `<meta>`), if any."""
    return (
        http_content_type_encoding(content_type)
        or read_bom(body)[0]
        or html_body_declared_encoding(body)
    )


def decode_html(body: bytes, content_type: str = "") -> tuple[str, str] | None:
    """(text, encoding) for undeclared non-UTF-8 Cyrillic bytes; None to let Scrapy decide."""
    if declared_encoding(body, content_type):
        return None
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return None
    encoding = legacy_cyrillic_encoding(body)
    return (body.decode(encoding, errors="replace"), encoding) if encoding else None


def response_html(response: TextResponse) -> str:
    """The response's text, with the Cyrillic fallback for undeclared legacy charsets."""
    content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1")
    decoded = decode_html(response.body, content_type)
    return decoded[0] if decoded else response.text
