"""A notice's text set as a PDF (reportlab), in DejaVu Sans: the font matplotlib ships, which covers the names
of Latin, Greek and Cyrillic script. The same text gives the same bytes (no dates or random ids inside)."""

from __future__ import annotations

import functools
import importlib.util
import io
from pathlib import Path
from xml.sax.saxutils import escape


@functools.cache
def _fonts() -> tuple[str, str]:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    spec = importlib.util.find_spec("matplotlib")  # its font files, without importing it
    folder = Path(spec.submodule_search_locations[0]) / "mpl-data" / "fonts" / "ttf"
    pdfmetrics.registerFont(TTFont("NoticeSans", str(folder / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont("NoticeSansBold", str(folder / "DejaVuSans-Bold.ttf")))
    return "NoticeSans", "NoticeSansBold"


def notice_pdf(text: str) -> bytes:
    """``text`` (its first line the title, paragraphs apart by blank lines, lines kept) as an A4 PDF."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    regular, bold = _fonts()
    title_style = ParagraphStyle("title", fontName=bold, fontSize=13, leading=17, spaceAfter=10)
    body = ParagraphStyle("body", fontName=regular, fontSize=10, leading=13.5, spaceAfter=7)
    title, _, rest = text.strip().partition("\n")
    story = [Paragraph(escape(title), title_style), Spacer(1, 2 * mm)]
    for paragraph in rest.strip().split("\n\n"):
        lines = [escape(line.rstrip()) for line in paragraph.strip("\n").split("\n")]
        story.append(Paragraph("<br/>".join(lines), body))
    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=A4, leftMargin=22 * mm, rightMargin=22 * mm, topMargin=20 * mm,
                      bottomMargin=20 * mm, title=title, invariant=True).build(story)
    return out.getvalue()
