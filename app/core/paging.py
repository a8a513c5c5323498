"""Pages of a long list: Flask-SQLAlchemy's `db.paginate`, with the page number read leniently.

A page number that is not a whole number means page 1; one past the end shows the last page.
The `pager` macro in `_macros.html` draws previous/next for the result.
"""
import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination

from app.extensions import db

PER_PAGE = 50


def page_number(raw) -> int:
    text = str(raw or "1")
    # isdecimal(), not isdigit(): "²" is a digit that int() refuses.
    return max(1, int(text)) if text.isdecimal() else 1


def paginate(query: sa.Select, page, per_page: int = PER_PAGE) -> Pagination:
    result = db.paginate(query, page=page_number(page), per_page=per_page, error_out=False)
    if result.total and result.page > result.pages:
        result = db.paginate(query, page=result.pages, per_page=per_page, error_out=False)
    return result
