"""Money: integer fen from end to end. One parser for what people type, two formats.

`parse_yuan` is the only place text becomes money (web forms, the API, CSV imports, content files):
"12.50", "¥1,250", "1250元" are fine; a comma is a thousands separator only in groups of three,
so "12,50" and "1,2,3" are refused rather than guessed.
"""
import re
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l

MAX_FEN = 100_000_00  # ¥100,000 in one entry is a typo, not a sale

# Digits, optionally grouped by commas in threes ("1,250,000"), then at most some decimals.
_AMOUNT = re.compile(r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+")


def parse_yuan(raw, *, maximum: int = MAX_FEN) -> int:
    """"12.5", 12.5, "¥1,200.00" -> fen. Refuses negatives, more than 2 decimals, stray commas, absurd sums."""
    if isinstance(raw, bool) or raw is None:
        raise ValueError(_l("Enter an amount in yuan, such as 12.50."))
    text = str(raw).strip().removeprefix("¥").removeprefix("￥").removesuffix("元").strip()
    negative = text.startswith("-")
    if negative:
        raise ValueError(_l("Earnings cannot be negative."))
    if "," in text and not _AMOUNT.fullmatch(text):
        raise ValueError(_l("Use a comma only between groups of three digits, such as 1,250.50."))
    try:
        amount = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise ValueError(_l("Enter an amount in yuan, such as 12.50.")) from None
    if not amount.is_finite():
        raise ValueError(_l("Enter an amount in yuan, such as 12.50."))
    if amount < 0:
        raise ValueError(_l("Earnings cannot be negative."))
    if amount > Decimal(maximum) / 100:  # before quantize(), which raises on huge numbers (1e30)
        raise ValueError(_l("That is more than ¥100,000 in a day: check the number."))
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError(_l("Use at most 2 decimals (fen)."))
    return int(amount * 100)


def format_yuan(fen: int) -> str:
    """1250 -> "12.50": the API's and the forms' money format."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def display_yuan(fen: int, *, whole: bool = False) -> str:
    """1234550 -> "¥12,345.50" for pages and messages; `whole` drops ".00" (posters)."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    if whole and fen % 100 == 0:
        return f"{sign}¥{fen // 100:,}"
    return f"{sign}¥{fen // 100:,}.{fen % 100:02d}"


def init_app(app) -> None:
    app.jinja_env.filters["yuan"] = display_yuan
