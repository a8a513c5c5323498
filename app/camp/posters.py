"""Share posters as PNG images (1080×1920, a phone screen): WeChat users long-press to save them.

Pure drawing: the callers pass every text and the URL to encode; the same input gives the same bytes.
The few fixed words (the invitation, the footer) are msgids, rendered in the poster's `lang`
("zh" or "en") when an app context is there to translate them, and in English (the msgids) otherwise.

Chinese needs a CJK font: Noto Sans CJK SC from the `noto-cjk-sans-otc` wheel (SIL Open Font License).
It has one weight (Regular); big titles get a faux bold by stroking each glyph in its own colour.
"""
import functools
import io
import math
import re
import threading
import unicodedata

import segno
from flask_babel import force_locale
from flask_babel import gettext as _
from noto_cjk_sans_otc import FONT_PATH
from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 1080, 1920
MARGIN = 110                  # left and right, for text
TEXT_WIDTH = WIDTH - 2 * MARGIN
QR_TARGET = 480               # about this many pixels square, scaled by a whole number
SC_FACE = 2                   # "Noto Sans CJK SC" in the collection

CREAM = (255, 247, 238)
CORAL = (232, 83, 52)
CORAL_LIGHT = (240, 112, 80)
CORAL_PALE = (255, 226, 214)
INK = (51, 38, 30)
MUTED = (124, 105, 92)
GOLD = (246, 185, 59)
WHITE = (255, 255, 255)
CARD_EDGE = (242, 224, 210)

# Never at the start of a line (closing punctuation) / never at its end (opening punctuation).
NO_LINE_START = set("，。、；：！？）」』》〉】〕”’…·,.;:!?)]}%")
NO_LINE_END = set("（「『《〈【〔“‘([{¥$")
# FreeType faces are not safe to share between threads without one (fine under the GIL, not without).
_drawing = threading.RLock()


@functools.cache
def font(size: int) -> ImageFont.FreeTypeFont:
    """Noto Sans CJK SC at this size, loaded once per size. The basic layout engine: the same
    output with or without libraqm."""
    return ImageFont.truetype(str(FONT_PATH), size, index=SC_FACE, layout_engine=ImageFont.Layout.BASIC)


@functools.cache
def _notdef() -> bytes:
    mask = font(32).getmask("\U0010FFFD")  # a private-use code point: the font's "missing" box
    return bytes(mask) + repr(mask.size).encode()


@functools.cache
def has_glyph(char: str) -> bool:
    mask = font(32).getmask(char)
    return bytes(mask) + repr(mask.size).encode() != _notdef()


def drawable(text: str | None) -> str:
    """The text without what the font cannot draw (emoji, control characters), on one line."""
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFC", text or "")).strip()
    return "".join(c for c in text if c == " " or has_glyph(c)).strip()


# --- the words on the posters -----------------------------------------------------------------

def _texts(lang: str) -> dict:
    with force_locale("en" if lang == "en" else "zh_CN"):
        return {
            "brand": _("Xiaob Academy"),
            "footer": _("Xiaob Academy · Scan to join"),
            "invited": _("You are invited to join"),
            "invitation": _("Learn with us, one small step a day, and start earning from your own WeChat group."),
            "invite_caption": _("Press and hold the QR code to join"),
            "did_it": _("I did it!"),
            "milestone_caption": _("Press and hold the QR code to learn with me"),
        }


def _mentor(name: str, lang: str) -> str:
    with force_locale("en" if lang == "en" else "zh_CN"):
        return _("Mentor: %(name)s", name=name)


def _cohort(name: str, lang: str) -> str:
    with force_locale("en" if lang == "en" else "zh_CN"):
        return _("Cohort: %(cohort)s", cohort=name)


def invite_lines(cohort_name: str, mentor_name: str | None, lang: str) -> list[tuple[str, str]]:
    """What the invite poster says, as (role, text) from top to bottom."""
    words = _texts(lang)
    mentor_name, cohort_name = drawable(mentor_name), drawable(cohort_name)
    lines = [("brand", words["brand"]), ("kicker", words["invited"]), ("title", cohort_name)]
    if mentor_name:
        lines.append(("mentor", _mentor(mentor_name, lang)))
    lines += [("body", words["invitation"]), ("caption", words["invite_caption"]), ("footer", words["footer"])]
    return lines


def milestone_lines(name: str | None, milestone_title: str, detail: str | None, cohort_name: str | None,
                    lang: str) -> list[tuple[str, str]]:
    """What the milestone poster says, as (role, text) from top to bottom. No name (None or ""),
    no name line: her poster is anonymous. `detail` may hold several lines."""
    words = _texts(lang)
    lines = [("brand", words["brand"])]
    if drawable(name):
        lines.append(("name", drawable(name)))
    lines += [("headline", words["did_it"]), ("title", drawable(milestone_title))]
    lines += [("detail", drawable(part)) for part in (detail or "").splitlines() if drawable(part)]
    if drawable(cohort_name):
        lines.append(("cohort", _cohort(drawable(cohort_name), lang)))
    lines += [("caption", words["milestone_caption"]), ("footer", words["footer"])]
    return lines


# --- text layout ----------------------------------------------------------------------------------

def _units(text: str) -> list[str]:
    """Pieces a line may break between: a CJK character, a Latin word, a space; punctuation
    stays with its neighbour (no line starts with "，" or ends with "「")."""
    units: list[str] = []
    for token in re.findall(r"\s+|[^\s]", text):
        wide = unicodedata.east_asian_width(token[0]) in "WF"
        glue = (units and (token[0] in NO_LINE_START or units[-1][-1] in NO_LINE_END
                           or (not wide and not token.isspace() and not units[-1].isspace()
                               and unicodedata.east_asian_width(units[-1][-1]) not in "WF")))
        if glue and units[-1].isspace() and len(units) > 1 and token[0] in NO_LINE_START:
            space = units.pop()
            units[-1] += space + token  # "期 ·": the dot stays with what it follows
        elif glue:
            units[-1] += token
        else:
            units.append(token)
    return units


def wrap(text: str, face: ImageFont.FreeTypeFont, width: int, max_lines: int = 3,
         balance: bool = False) -> list[str]:
    """Lines no wider than `width` as measured in this font; the last one ends in "…" if cut.
    Balanced: as many lines, as even as they can be (no lonely word on a title's last line)."""
    lines = _greedy(text, face, width, max_lines)
    if balance and 1 < len(lines) <= max_lines and not lines[-1].endswith("…"):
        low, high = width // len(lines), width
        while low < high:  # the narrowest width that still takes as many lines
            middle = (low + high) // 2
            if len(_greedy(text, face, middle, 99)) <= len(lines):
                high = middle
            else:
                low = middle + 1
        lines = _greedy(text, face, high, max_lines)
    return lines


def _greedy(text: str, face: ImageFont.FreeTypeFont, width: int, max_lines: int) -> list[str]:
    lines, line = [], ""
    for unit in _units(text):
        if line.strip() and face.getlength(line + unit) > width:
            lines.append(line.rstrip())
            line = unit.lstrip()
        else:
            line += unit
        while face.getlength(line) > width and len(line) > 1:  # a word wider than a line: cut it
            cut = max(1, next(i for i in range(len(line), 0, -1) if face.getlength(line[:i]) <= width or i == 1))
            lines.append(line[:cut].rstrip())
            line = line[cut:].lstrip()
    if line.strip():
        lines.append(line.rstrip())
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and face.getlength(last + "…") > width:
            last = last[:-1]
        lines = lines[:max_lines - 1] + [last.rstrip() + "…"]
    return lines


class _Canvas:
    def __init__(self):
        self.image = Image.new("RGB", (WIDTH, HEIGHT), CREAM)
        self.draw = ImageDraw.Draw(self.image)

    def text(self, y: int, text: str, size: int, fill, *, bold: bool = False, max_lines: int = 3,
             leading: float = 1.4, width: int = TEXT_WIDTH) -> int:
        """Centred, wrapped (and balanced) lines from `y` down; returns the y under the last one."""
        face = font(size)
        stroke = max(1, size // 36) if bold else 0
        for line in wrap(text, face, width, max_lines, balance=True):
            self.centred(y, line, face, fill, stroke)
            y += round(size * leading)
        return y

    def centred(self, y: int, line: str, face: ImageFont.FreeTypeFont, fill, stroke: int = 0) -> None:
        """Centred on its ink, not its advance: a closing "！" or "。" has blank space on its right."""
        left, _, right, _ = face.getbbox(line, anchor="la", stroke_width=stroke)
        x = WIDTH // 2 - (left + right) // 2
        self.draw.text((x, y), line, font=face, fill=fill, anchor="la", stroke_width=stroke, stroke_fill=fill)

    def height(self, text: str, size: int, *, max_lines: int = 3, leading: float = 1.4,
               width: int = TEXT_WIDTH) -> int:
        return len(wrap(text, font(size), width, max_lines)) * round(size * leading)

    def header(self, bottom: int) -> None:
        """The coral band at the top with a gently curved lower edge and two soft circles."""
        band = Image.new("RGB", (WIDTH, bottom + 60), CREAM)
        draw = ImageDraw.Draw(band)
        draw.rectangle((0, 0, WIDTH, bottom - 40), fill=CORAL)
        draw.ellipse((-300, bottom - 120, WIDTH + 300, bottom + 40), fill=CORAL)
        draw.ellipse((WIDTH - 260, -180, WIDTH + 180, 260), fill=CORAL_LIGHT)
        draw.ellipse((-160, bottom - 330, 140, bottom - 30), fill=CORAL_LIGHT)
        self.image.paste(band, (0, 0))

    def qr_card(self, url: str, caption: str, bottom: int) -> int:
        """The QR code on a white card whose lower edge is at `bottom`; returns the card's top.
        The code's own quiet zone (4 modules of white) is the card's padding."""
        qr = qr_image(url)
        card_w = max(qr.width + 80, 700)
        caption_lines = wrap(caption, font(38), card_w - 80, 2)
        card_h = qr.height - 8 + len(caption_lines) * 52 + 44
        left, top = (WIDTH - card_w) // 2, bottom - card_h
        self.draw.rounded_rectangle((left, top, left + card_w, bottom), radius=36, fill=WHITE)
        self.image.paste(qr, ((WIDTH - qr.width) // 2, top))
        self.draw.rounded_rectangle((left, top, left + card_w, bottom), radius=36, outline=CARD_EDGE, width=3)
        y = top + qr.height - 8
        for line in caption_lines:
            self.centred(y, line, font(38), MUTED)
            y += 52
        return top

    def footer(self, text: str) -> None:
        face = font(34)
        self.draw.text((WIDTH // 2, HEIGHT - 100), text, font=face, fill=MUTED, anchor="ma")
        width = face.getlength(text)
        for side in (-1, 1):  # short rules either side
            x = WIDTH // 2 + side * (width / 2 + 30)
            self.draw.line((x, HEIGHT - 78, x + side * 60, HEIGHT - 78), fill=CARD_EDGE, width=3)

    def png(self) -> bytes:
        out = io.BytesIO()
        self.image.save(out, "PNG", optimize=False, compress_level=6)
        return out.getvalue()


def qr_image(url: str) -> Image.Image:
    """The URL as a QR code (error correction M, 4-module quiet zone), black on white,
    scaled by a whole number of pixels per module (nearest neighbour) to about QR_TARGET."""
    code = segno.make(url, error="m", micro=False)
    rows = list(code.matrix_iter(scale=1, border=4))
    modules = len(rows)
    small = Image.new("1", (modules, modules), 1)
    small.putdata([0 if dark else 1 for row in rows for dark in row])
    scale = max(1, round(QR_TARGET / modules))
    return small.resize((modules * scale, modules * scale), Image.Resampling.NEAREST).convert("RGB")


def _star(draw: ImageDraw.ImageDraw, cx: int, cy: int, outer: int, fill) -> None:
    points = []
    for i in range(10):
        radius = outer if i % 2 == 0 else outer * 0.45
        angle = -math.pi / 2 + i * math.pi / 5
        points.append((round(cx + radius * math.cos(angle)), round(cy + radius * math.sin(angle))))
    draw.polygon(points, fill=fill)


# --- the posters ----------------------------------------------------------------------------------

def _fit(canvas: "_Canvas", text: str, sizes: tuple[int, ...], lines: int, width: int = TEXT_WIDTH) -> int:
    """The biggest of these sizes at which the text takes at most `lines` lines (else the smallest)."""
    return next((size for size in sizes if len(wrap(text, font(size), width, 99)) <= lines), sizes[-1])


def invite_poster(cohort_name: str, mentor_name: str | None, url: str, lang: str) -> bytes:
    """A cohort's invite: its name, its mentor, a line of invitation and the QR code of `url`."""
    with _drawing:
        return _invite_poster(cohort_name, mentor_name, url, lang)


def _invite_poster(cohort_name: str, mentor_name: str | None, url: str, lang: str) -> bytes:
    lines = dict(invite_lines(cohort_name, mentor_name, lang))
    canvas = _Canvas()
    size = _fit(canvas, lines["title"], (96, 76), 2)
    title_height = canvas.height(lines["title"], size, max_lines=3, leading=1.3)
    band_bottom = max(560, 300 + title_height + 120)
    canvas.header(band_bottom)
    canvas.text(100, lines["brand"], 40, CORAL_PALE, max_lines=1)
    canvas.text(190, lines["kicker"], 54, WHITE, max_lines=1)
    canvas.text(300, lines["title"], size, WHITE, bold=True, max_lines=3, leading=1.3)

    card_top = canvas.qr_card(url, lines["caption"], HEIGHT - 170)
    # The mentor and the invitation, centred between the band and the card.
    block = (canvas.height(lines["mentor"], 50, max_lines=1) + 24 if "mentor" in lines else 0) \
        + canvas.height(lines["body"], 42, max_lines=3, leading=1.5, width=TEXT_WIDTH - 40)
    y = band_bottom + max(30, (card_top - band_bottom - block) // 2)
    if "mentor" in lines:
        y = canvas.text(y, lines["mentor"], 50, INK, bold=True, max_lines=1) + 24
    canvas.text(y, lines["body"], 42, MUTED, max_lines=3, leading=1.5, width=TEXT_WIDTH - 40)
    canvas.footer(lines["footer"])
    return canvas.png()


def milestone_poster(name: str | None, milestone_title: str, detail: str | None, cohort_name: str | None,
                     url: str, lang: str) -> bytes:
    """Her milestone: her name (None: anonymous), "I did it!", the milestone, `detail` (the day she
    reached it, her earnings if she shares them; one line each), her cohort, the QR code of `url`."""
    with _drawing:
        return _milestone_poster(name, milestone_title, detail, cohort_name, url, lang)


def _milestone_poster(name: str | None, milestone_title: str, detail: str | None, cohort_name: str | None,
                      url: str, lang: str) -> bytes:
    lines = milestone_lines(name, milestone_title, detail, cohort_name, lang)
    first = dict(lines)
    canvas = _Canvas()
    band_bottom = 560 if "name" in first else 500
    canvas.header(band_bottom)
    canvas.text(100, first["brand"], 40, CORAL_PALE, max_lines=1)
    y = 195
    if "name" in first:
        y = canvas.text(y, first["name"], 56, WHITE, max_lines=1) + 6
    canvas.text(y, first["headline"], 110, WHITE, bold=True, max_lines=1)

    # A gold badge with a star on the band's lower edge.
    cx, cy, r = WIDTH // 2, band_bottom - 10, 80
    canvas.draw.ellipse((cx - r - 12, cy - r - 12, cx + r + 12, cy + r + 12), fill=WHITE)
    canvas.draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=GOLD)
    _star(canvas.draw, cx, cy + 4, 52, WHITE)

    card_top = canvas.qr_card(url, first["caption"], HEIGHT - 170)
    size = _fit(canvas, first["title"], (84, 64), 2)
    details = [text for role, text in lines if role == "detail"]
    block = canvas.height(first["title"], size, max_lines=3, leading=1.3) + 28 \
        + sum(canvas.height(d, 42, max_lines=2) for d in details) \
        + (canvas.height(first["cohort"], 40, max_lines=2) + 20 if "cohort" in first else 0)
    top = cy + r + 12
    y = top + max(30, (card_top - top - block) // 2)
    y = canvas.text(y, first["title"], size, CORAL, bold=True, max_lines=3, leading=1.3) + 28
    for text in details:
        y = canvas.text(y, text, 42, INK, max_lines=2)
    if "cohort" in first:
        canvas.text(y + 20, first["cohort"], 40, MUTED, max_lines=2)
    canvas.footer(first["footer"])
    return canvas.png()
