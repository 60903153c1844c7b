"""Small lxml helpers shared by the sitemap and feed parsers (namespace-agnostic lookups)."""

from __future__ import annotations

from typing import Any

from lxml import etree

# Recovering parser: real sitemaps and feeds are often slightly broken; entities are not
# resolved and nothing is fetched from the network (no XXE, no billion laughs).
_PARSER = etree.XMLParser(
    recover=True, resolve_entities=False, no_network=True, remove_comments=True, huge_tree=False
)


def parse_xml(body: bytes) -> Any | None:
    """The root element of an XML document, or None when it is not XML at all."""
    try:
        root = etree.fromstring(body.lstrip(), parser=_PARSER)
    except (etree.XMLSyntaxError, ValueError):
        return None
    return root


def local(element: Any) -> str:
    """Tag name without namespace ("" for comments and processing instructions)."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2].lower()


def children(element: Any, name: str) -> list[Any]:
    return [child for child in element if local(child) == name]


def child_text(element: Any, *path: str) -> str | None:
    """Stripped text of the first descendant reached by local names, or None."""
    current = [element]
    for name in path:
        current = [c for parent in current for c in children(parent, name)]
        if not current:
            return None
    text = "".join(current[0].itertext()).strip()
    return text or None
