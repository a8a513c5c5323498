"""Mentors import earnings from a shop platform's CSV export: preview first, then apply all or nothing.

A file has a header row naming its columns (English or Chinese), comma or tab separated:

    mobile/手机号 or email/邮箱, date/日期, earnings/收入/佣金, orders/订单数 (optional); other columns are ignored.

preview_import() only reads: every row becomes a row to apply (creating or changing a check-in), an unchanged
row, or a rejected row with its reasons. apply_import() computes the same preview again and stores every row
to apply with service.record_checkin(source="import") in one transaction: one failure and nothing is stored.
A row for a day she already reported changes its earnings (and orders, when given) and keeps the rest.
"""
import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.core.access import Role
from app.accounts.service import normalize_email, normalize_mobile
from app.checkins import service
from app.checkins.models import Checkin
from app.core.calendar import local_today, programme_start
from app.core.money import format_yuan
from app.core.access import coached_cohort_ids
from app.core.errors import DomainError

MAX_ROWS = 2000
MAX_BYTES = 256 * 1024  # its base64 in the confirm form stays under Werkzeug's 500 KB form-field limit

# Header names, compared lowercased, without spaces, "*" and anything in brackets: "收入（元）" is 收入.
COLUMNS = {
    "mobile": ("mobile", "phone", "mobilenumber", "phonenumber", "tel", "手机", "手机号", "手机号码", "电话",
               "电话号码", "联系电话"),
    "email": ("email", "e-mail", "mail", "emailaddress", "邮箱", "邮箱地址", "电子邮箱", "电子邮件"),
    "date": ("date", "day", "日期", "统计日期"),
    "earnings": ("earnings", "commission", "income", "收入", "佣金", "收益", "预估佣金", "预估收入", "佣金收入",
                 "结算佣金"),
    "orders": ("orders", "ordercount", "order", "订单数", "订单", "订单量", "订单数量", "单数"),
}
ALIASES = {alias: name for name, aliases in COLUMNS.items() for alias in aliases}
DATE_PATTERN = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
                          r"(?:[ T]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")


class ImportFailed(Exception):
    """Storing a row failed at apply time: the whole import was rolled back, nothing is stored."""

    def __init__(self, message, line: int | None = None):
        super().__init__(str(message))
        self.message, self.line = message, line


class ImportChanged(Exception):
    """The file or the check-ins changed since the preview the mentor confirmed: nothing is stored."""

    def __init__(self, preview: "ImportPreview"):
        super().__init__("the import changed since its preview")
        self.preview = preview


@dataclass
class ImportRow:
    """A valid row: her check-in for `day` gets these earnings (and orders, when given)."""

    line: int
    raw: str
    trainee: User
    day: date
    earnings_fen: int
    orders: int | None            # None: not in the file, the check-in keeps what it has
    existing: Checkin | None = None

    @property
    def creates(self) -> bool:
        return self.existing is None

    @property
    def old_earnings_fen(self) -> int | None:
        return None if self.existing is None else self.existing.earnings_fen

    @property
    def old_orders(self) -> int | None:
        return None if self.existing is None else self.existing.orders

    @property
    def new_orders(self) -> int | None:
        return self.old_orders if self.orders is None else self.orders

    @property
    def unchanged(self) -> bool:
        return (self.existing is not None and self.earnings_fen == self.existing.reported_earnings_fen
                and self.new_orders == self.existing.orders)

    def raw_checkin(self) -> dict:
        """What record_checkin stores: the new numbers over what the day already has (members, posts, note)."""
        raw = {"date": self.day.isoformat(), "earnings": format_yuan(self.earnings_fen),
               "orders": self.new_orders}
        if self.existing is not None:
            raw.update({name: getattr(self.existing, name) for name in service.COUNTERS if name != "orders"})
            raw["note"] = self.existing.note or ""
        return raw

    def key(self) -> list:
        return [self.line, self.trainee.id, self.day.isoformat(), self.earnings_fen, self.orders,
                self.existing.id if self.existing else None, self.old_earnings_fen, self.old_orders]


@dataclass
class RejectedRow:
    line: int
    raw: str
    reasons: list = field(default_factory=list)

    @property
    def reason(self) -> str:
        return " ".join(str(r) for r in self.reasons)


@dataclass
class ImportPreview:
    rows: list[ImportRow] = field(default_factory=list)         # to apply, in file order
    unchanged: list[ImportRow] = field(default_factory=list)    # already as in the file: nothing to do
    rejected: list[RejectedRow] = field(default_factory=list)
    errors: list = field(default_factory=list)                  # problems with the whole file: nothing to preview
    ignored_columns: list[str] = field(default_factory=list)
    digest: str = ""

    @property
    def creates(self) -> int:
        return sum(1 for row in self.rows if row.creates)

    @property
    def updates(self) -> int:
        return sum(1 for row in self.rows if not row.creates)


@dataclass
class ImportResult:
    created: int
    updated: int
    unchanged: int
    rejected: int


def decode_csv(data: bytes) -> str:
    """UTF-8 with or without BOM, UTF-16 with BOM (Excel's "Unicode text"), else GBK (GB18030, its superset)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise ValueError(_l("This file is not text we can read: save it as CSV (UTF-8 or GBK).")) from None


def _normalize_text(csv_text: str | bytes) -> str:
    text = decode_csv(csv_text) if isinstance(csv_text, bytes) else csv_text
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _header_name(cell: str) -> str:
    name = re.sub(r"[（(\[【].*?[)）\]】]", "", cell.removeprefix("\ufeff"))
    return re.sub(r"[\s*:：_]", "", name).lower()


def _cell(value: str) -> str:
    """Undo what spreadsheets add to keep long numbers as text: ="138...", a leading ' or tab."""
    value = value.strip()
    if value.startswith('="') and value.endswith('"'):
        value = value[2:-1]
    return value.removeprefix("'").strip()


def parse_date(value: str) -> date:
    """2024-05-01, 2024/5/1, 2024.05.01, 2024年5月1日, 20240501, with or without a time after it."""
    value = value.strip()
    if re.fullmatch(r"\d{8}", value):
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    match = DATE_PATTERN.fullmatch(value)
    if not match:
        raise ValueError(value)
    return date(*(int(part) for part in match.groups()))


def _read(text: str, preview: ImportPreview):
    """(columns, [(line, raw, cells)]) or None with preview.errors filled."""
    lines = text.split("\n")
    header_index = next((i for i, line in enumerate(lines) if line.strip()), None)
    if header_index is None:
        preview.errors.append(_l("The file is empty."))
        return None
    header_line = lines[header_index]
    delimiter = "\t" if "\t" in header_line else ","
    try:
        records, previous = [], 0
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        for cells in reader:
            start, previous = previous + 1, reader.line_num
            if any(cell.strip() for cell in cells):
                records.append((start, "\n".join(lines[start - 1:reader.line_num]), cells))
    except csv.Error:
        preview.errors.append(_l("This file is not text we can read: save it as CSV (UTF-8 or GBK)."))
        return None
    (_, _, header), rows = records[0], records[1:]
    columns, seen = {}, {}
    for index, cell in enumerate(header):
        name = ALIASES.get(_header_name(cell))
        if name is None:
            if cell.strip():
                preview.ignored_columns.append(cell.strip().removeprefix("\ufeff"))
        elif name in columns:
            preview.errors.append(_l("The columns “%(a)s” and “%(b)s” mean the same: keep one of them.",
                                     a=seen[name], b=cell.strip()))
        else:
            columns[name], seen[name] = index, cell.strip()
    missing = False
    for names, label in ((("mobile", "email"), _l("mobile or email")), (("date",), _l("date")),
                         (("earnings",), _l("earnings"))):
        if not any(name in columns for name in names):
            preview.errors.append(_l("Missing column: %(name)s.", name=label))
            missing = True
    if missing:
        preview.errors.append(_l("The first line must name the columns, for example: mobile, date, earnings, "
                                 "orders (or 手机号, 日期, 收入, 订单数)."))
    if len(rows) > MAX_ROWS:
        preview.errors.append(_l("Import at most %(n)d rows at a time.", n=MAX_ROWS))
    if preview.errors:
        return None
    return columns, len(header), rows


def _find_trainees(session: Session, mobiles: set, emails: set) -> tuple[dict, dict]:
    by_mobile = {u.mobile: u for u in session.scalars(sa.select(User).where(User.mobile.in_(mobiles)))} \
        if mobiles else {}
    by_email = {u.email: u for u in session.scalars(sa.select(User).where(User.email.in_(emails)))} \
        if emails else {}
    return by_mobile, by_email


def _identifiers(cells: list[str], columns: dict) -> tuple[str, str, str | None, str | None]:
    """(mobile cell, email cell, normalized mobile, normalized email); an email in the mobile column counts."""
    mobile_cell = _cell(cells[columns["mobile"]]) if "mobile" in columns and columns["mobile"] < len(cells) else ""
    email_cell = _cell(cells[columns["email"]]) if "email" in columns and columns["email"] < len(cells) else ""
    mobile = email = None
    for value in (mobile_cell, email_cell):
        if "@" in value:
            email = email or normalize_email(value)
        elif value:
            try:
                mobile = mobile or normalize_mobile(value)
            except DomainError:
                pass
    return mobile_cell, email_cell, mobile, email


def preview_import(session: Session, mentor: User, csv_text: str | bytes, now: datetime) -> ImportPreview:
    """What importing this file would do, row by row. Reads only: nothing is stored."""
    preview = ImportPreview()
    try:
        text = _normalize_text(csv_text)
    except ValueError as e:
        preview.errors.append(e.args[0])
        return preview
    read = _read(text, preview)
    if read is None:
        return preview
    columns, width, records = read

    cohort_ids = _cohort_ids(session, mentor)
    found = [(line, raw, cells, *_identifiers(cells, columns)) for line, raw, cells in records]
    by_mobile, by_email = _find_trainees(session, {mobile for *_, mobile, _email in found if mobile},
                                         {email for *_, email in found if email})

    candidates = []  # (line, raw, reasons, trainee, day, earnings_fen, orders)
    for line, raw, cells, mobile_cell, email_cell, mobile, email in found:
        reasons = []
        if len(cells) > width:
            reasons.append(_l("This line has %(n)d cells where the header has %(m)d: "
                              "a number with a comma in it must be in quotes.", n=len(cells), m=width))

        def value(name: str) -> str:
            return _cell(cells[columns[name]]) if name in columns and columns[name] < len(cells) else ""

        trainee = None
        matches = {u.id: u for u in (by_mobile.get(mobile), by_email.get(email)) if u is not None}
        if not mobile_cell and not email_cell:
            reasons.append(_l("No mobile number or email: whose earnings are these?"))
        elif not matches:
            reasons.append(_l("Unknown trainee: no account has “%(who)s”.",
                              who=" / ".join(v for v in (mobile_cell, email_cell) if v)))
        elif len(matches) > 1:
            reasons.append(_l("The mobile number and the email belong to two different accounts."))
        else:
            trainee = next(iter(matches.values()))
            if trainee.role != Role.TRAINEE:
                reasons.append(_l("This account is not a trainee's."))
                trainee = None
            elif cohort_ids is not None and trainee.cohort_id not in cohort_ids:
                # No name: a mobile number must not tell a mentor who is in another cohort.
                reasons.append(_l("This trainee is not in a cohort you coach."))
                trainee = None
            elif not trainee.is_active:
                reasons.append(_l("%(name)s's account is deactivated.", name=trainee.name))
                trainee = None

        day = None
        if not value("date"):
            reasons.append(_l("No date."))
        else:
            try:
                day = parse_date(value("date"))
            except ValueError:
                reasons.append(_l("Bad date “%(value)s”: write it as YYYY-MM-DD.", value=value("date")))
        if day is not None and trainee is not None:
            start = programme_start(trainee)
            if day > local_today(trainee, now):
                reasons.append(_l("Future date: %(day)s has not come yet.", day=day.isoformat()))
            elif day < start:
                reasons.append(_l("Before her start: %(name)s started on %(start)s.",
                                  name=trainee.name, start=start.isoformat()))

        earnings_fen = orders = None
        try:
            values = service.parse_checkin({"date": "2000-01-01", "earnings": value("earnings"),
                                            "orders": value("orders")})
            earnings_fen, orders = values["earnings_fen"], values["orders"]
        except DomainError as e:
            if "earnings" in e.fields:
                reasons.append(_l("No earnings: write 0 if she earned nothing.") if not value("earnings") else
                               _l("Bad earnings “%(value)s”: %(problem)s", value=value("earnings"),
                                  problem=e.fields["earnings"]))
            if "orders" in e.fields:
                reasons.append(_l("Bad orders “%(value)s”: %(problem)s", value=value("orders"),
                                  problem=e.fields["orders"]))
        candidates.append((line, raw, reasons, trainee, day, earnings_fen, orders))

    # The same trainee and day twice in the file: which one is right is hers to say, so neither is imported.
    lines_of = {}
    for line, _raw, _reasons, trainee, day, *_ in candidates:
        if trainee is not None and day is not None:
            lines_of.setdefault((trainee.id, day), []).append(line)
    for line, _raw, reasons, trainee, day, *_ in candidates:
        others = lines_of.get((trainee.id, day), []) if trainee is not None and day is not None else []
        if len(others) > 1:
            reasons.append(_l("Duplicate: lines %(lines)s are all for %(name)s on %(day)s; keep one of them.",
                              lines=", ".join(str(n) for n in others), name=trainee.name, day=day.isoformat()))

    valid = [c for c in candidates if not c[2]]
    existing = _existing(session, {c[3].id for c in valid}, {c[4] for c in valid})
    for line, raw, reasons, trainee, day, earnings_fen, orders in candidates:
        if reasons:
            preview.rejected.append(RejectedRow(line, raw, reasons))
            continue
        row = ImportRow(line, raw, trainee, day, earnings_fen, orders, existing.get((trainee.id, day)))
        (preview.unchanged if row.unchanged else preview.rows).append(row)
    preview.digest = _digest(text, preview)
    return preview


def _cohort_ids(session: Session, mentor: User) -> set | None:
    """The cohorts whose trainees she may import for; None means every cohort (admins)."""
    ids = coached_cohort_ids(session, mentor)
    return None if ids is None else set(ids)


def _existing(session: Session, user_ids: set, days: set) -> dict:
    if not user_ids:
        return {}
    checkins = session.scalars(sa.select(Checkin).where(Checkin.user_id.in_(user_ids), Checkin.day.in_(days)))
    return {(c.user_id, c.day): c for c in checkins}


def _digest(text: str, preview: ImportPreview) -> str:
    """Changes when the file or what importing it would do changes (someone edited a day, a trainee left)."""
    plan = {"text": hashlib.sha256(text.encode()).hexdigest(),
            "rows": [row.key() for row in preview.rows], "unchanged": [row.key() for row in preview.unchanged],
            "rejected": [row.line for row in preview.rejected]}
    return hashlib.sha256(json.dumps(plan, sort_keys=True).encode()).hexdigest()


def apply_import(session: Session, mentor: User, csv_text: str | bytes, now: datetime,
                 digest: str | None = None) -> ImportResult:
    """Store every row the preview accepts, all in one transaction; the caller commits.

    With `digest` (from the preview she confirmed), refuses with ImportChanged when the file or the plan differ.
    When a row fails, the session is rolled back (call this with nothing else pending) and ImportFailed raised.
    """
    preview = preview_import(session, mentor, csv_text, now)
    if preview.errors:
        raise ImportFailed(preview.errors[0])
    if digest is not None and digest != preview.digest:
        raise ImportChanged(preview)
    programme = service.get_programme(session)
    row = None
    try:
        for row in preview.rows:
            service.record_checkin(session, row.trainee, row.raw_checkin(), now, source="import",
                                   changed_by=mentor, programme=programme)
        session.flush()
    except DomainError as e:
        session.rollback()
        raise ImportFailed(_l("Line %(line)d: %(problem)s Nothing was imported.", line=row.line,
                              problem="; ".join(str(m) for m in e.fields.values())), row.line) from e
    except SQLAlchemyError as e:
        session.rollback()
        raise ImportFailed(_l("The check-ins changed while importing. Nothing was imported: try again.")) from e
    except BaseException:
        session.rollback()
        raise
    return ImportResult(created=preview.creates, updated=preview.updates, unchanged=len(preview.unchanged),
                        rejected=len(preview.rejected))
