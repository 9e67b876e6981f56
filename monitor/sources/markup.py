"""Untrusted HTML made safe for lexbor: decoding, and a flat copy holding only the tags the parser reads.

HTML tree building is superlinear on hostile markup, and lexbor, unlike browsers, caps nothing: 200 KB of
nested ``<div>`` takes seconds, and interleaved formatting elements (``<b 1>…<i 1>…x</b>``) make the
adoption agency clone elements by the million (lexbor issue #340). The page parser needs no tree, only
tags and their attributes, so :func:`flatten` tokenises the document in one linear pass, with the HTML
tokenizer's rules where they matter (comments, raw text of ``<script>``, ``<style>``, ``<title>``,
``<textarea>``..., quoted attribute values, ``/>`` and CDATA in SVG and MathML), and hands lexbor a flat
document: each tag the parser reads, closed at once, plus the title and the JSON-LD scripts. Lexbor still
parses every attribute and character reference. Departures from a browser, all harmless here: a tag is
cut at a ``<`` outside quotes and at an unclosed quote (a browser reads to the end of the document).
"""

from __future__ import annotations

import codecs
import re


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


RAW_TEXT = _names("iframe noembed noframes script style textarea title xmp")
# HTML start tags that end SVG or MathML content, and the elements inside it whose content is HTML again.
BREAKOUT = _names(
    "b big blockquote body br center code dd div dl dt em embed font h1 h2 h3 h4 h5 h6 head hr i img li "
    "listing menu meta nobr ol p pre ruby s small span strike strong sub sup table tt u ul var"
)
INTEGRATION = _names("annotation-xml desc foreignobject mi mn mo ms mtext title")
# The tags kept: void ones as they are, the others closed at once.
KEPT_VOID = _names("base img link meta source")
KEPT_CLOSED = _names("a audio video")
# Python's names of the encodings of the web (https://encoding.spec.whatwg.org/), as name prefixes.
WEB_CODECS = tuple(_names("utf-8 ascii iso8859 cp koi8 mac- shift_jis euc_ iso2022 gb big5 hz tis-620"))

# <!--, or <! <? </x (bogus comments), or a tag: / name attributes (quoted values may hold < and >).
_TOKEN = re.compile(
    r"<(?:(!--)|([!?]|/(?![A-Za-z]))|(/?)([A-Za-z][^\t\n\f\r />]*)((?:[^<>\"']++|\"[^\"]*+\"|'[^']*+')*+))"
)
_RAW_END = {name: re.compile(rf"</{name}[\t\n\f\r />]", re.IGNORECASE) for name in RAW_TEXT}
_META_CHARSET = re.compile(rb"<meta[^>]{0,512}?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]{1,40})", re.IGNORECASE)
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def decode(body: bytes, content_type: str | None) -> str:
    """The text of an HTML document: by BOM, else the content type's charset, else ``<meta charset>``, else
    UTF-8; undecodable bytes become U+FFFD. Only the encodings of the web are honoured."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body.decode(codec, errors="replace")
    declared = [
        param.partition("=")[2].strip(" \"'")
        for param in (content_type or "").split(";")[1:]
        if param.partition("=")[0].strip().lower() == "charset"
    ]
    meta = _META_CHARSET.search(body[:4096])
    for name in [*declared, meta.group(1).decode("ascii") if meta else ""]:
        try:
            codec = codecs.lookup(name).name
            if codec.startswith(WEB_CODECS):  # not utf-7, punycode (quadratic), unicode-escape, zlib, ...
                return body.decode(codec, errors="replace")
        except (LookupError, ValueError):
            continue
    return body.decode("utf-8", errors="replace")


def flatten(text: str) -> str:
    """A flat HTML document of the ``base``, ``meta``, ``link``, ``a``, ``img``, ``audio``, ``video`` and
    ``source`` tags of ``text``, its titles and its JSON-LD scripts, in document order; linear time."""
    kept = ["<!doctype html><html><head></head><body>"]
    foreign = 0  # depth of open <svg> and <math>, inside which "/>" closes and CDATA sections exist
    pos, search, length = 0, _TOKEN.search, len(text)
    while pos < length and (match := search(text, pos)) is not None:
        pos = match.end()
        if match.group(1):  # <!-- comment -->, or the empty <!--> and <!--->
            if text.startswith((">", "->"), pos):
                pos = text.find(">", pos) + 1
            else:
                end = text.find("-->", pos)
                pos = end + 3 if end >= 0 else length
            continue
        if match.group(2) is not None:  # <!DOCTYPE>, <?pi>, </ x>, <![CDATA[ ]]>: up to the next ">"
            cdata = foreign and text.startswith("[CDATA[", pos)
            end = text.find("]]>" if cdata else ">", pos)
            pos = end + 1 if end >= 0 else length
            continue
        closing, name, attributes = match.group(3), match.group(4).lower(), match.group(5)
        if closing:
            if name in ("svg", "math") and foreign:
                foreign -= 1
            continue
        in_foreign = bool(foreign)
        if in_foreign and (name in BREAKOUT or name in INTEGRATION):
            foreign = 0
        if name in KEPT_VOID:
            kept.append(f"<{name}{_closable(attributes)} >")
        elif name in KEPT_CLOSED:
            kept.append(f"<{name}{_closable(attributes)} ></{name}>")
        elif name in RAW_TEXT and not in_foreign:  # its content is text up to its end tag
            end_match = _RAW_END[name].search(text, pos)
            end = end_match.start() if end_match else length
            if name == "title" or (name == "script" and "ld+json" in attributes.lower()):
                start = text.find(">", pos, end) + 1 or end  # no ">" before the end tag: no content
                kept.append(f"<{name}{_closable(attributes)} >{text[start:end]}</{name}>")
            pos = end
        elif name in ("svg", "math") and not attributes.rstrip().endswith("/"):
            foreign += 1
    return "".join(kept)


def _closable(attributes: str) -> str:
    """Attributes that a following " >" closes: their quotes always pair (see ``_TOKEN``), but a tag cut at
    an unpaired quote may end in ``=``, where the next character would open a value."""
    return attributes + '""' if attributes.rstrip().endswith("=") else attributes
