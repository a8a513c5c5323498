"""Shops and their order events: secrets, signatures, who the order is for, and her day's commission.

A shop signs each request with its own secret: X-Signature = "sha256=" + hex HMAC-SHA256(secret,
X-Timestamp + "." + raw body). A request more than five minutes old (or ahead), unsigned or signed with the
wrong secret is refused before its body is read, and stores nothing. Each order event (shop + order id + event)
is applied once; a replay is answered as a duplicate. Plain functions: the caller commits.
"""
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.accounts.service import normalize_mobile
from app.checkins.service import set_shop_earnings, storable_text
from app.core.calendar import programme_start
from app.core.errors import DomainError
from app.core.money import parse_yuan
from app.shops.models import Shop, ShopMember, ShopOrder, ShopOrderEvent

WINDOW = timedelta(minutes=5)           # how old (or how far ahead) X-Timestamp may be
ROTATION_GRACE = timedelta(hours=24)     # the old secret still signs this long after a rotation
EVENTS = ("paid", "refunded", "settled")
MAX_ID = 64                              # order ids and external ids, in characters
BODY_FIELDS = {"order_id", "event", "mobile", "external_id", "commission", "amount", "occurred_at"}


class HookRefused(Exception):
    """The request is refused; nothing was stored. `fields`: a message per bad body field."""

    def __init__(self, status: int, message: str, fields: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.fields = status, message, fields or {}


# --- shops and their secrets ---------------------------------------------------------------------

def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def create_shop(session: Session, name: str, now: datetime) -> Shop:
    name = name.strip()
    if not name or len(name) > 80 or not storable_text(name):
        raise ValueError("a shop's name is 1 to 80 characters of text")
    shop = Shop(key="shop_" + secrets.token_hex(6), name=name, secret=new_secret(), created_at=now)
    session.add(shop)
    session.flush()
    return shop


def rotate_secret(session: Session, shop: Shop, now: datetime) -> str:
    """A new secret; the old one keeps signing for ROTATION_GRACE, so the shop can switch without a gap."""
    shop.previous_secret, shop.previous_valid_until = shop.secret, now + ROTATION_GRACE
    shop.secret, shop.rotated_at = new_secret(), now
    session.flush()
    return shop.secret


def list_shops(session: Session) -> list[Shop]:
    return list(session.scalars(sa.select(Shop).order_by(Shop.name, Shop.id)))


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Signature header's value for a request body sent at `timestamp` (Unix seconds, as text)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(session: Session, shop_key: str, timestamp: str, signature: str, body: bytes, now: datetime) -> Shop:
    """The shop that signed this request, or HookRefused(401)."""
    shop = session.scalar(sa.select(Shop).where(Shop.key == shop_key)) if shop_key else None
    if shop is None:
        raise HookRefused(401, "unknown shop: send X-Shop-Id")
    if not (timestamp.isascii() and timestamp.isdecimal() and len(timestamp) <= 12):
        raise HookRefused(401, "send X-Timestamp as Unix seconds")
    if abs(now.timestamp() - int(timestamp)) > WINDOW.total_seconds():
        raise HookRefused(401, "stale request: X-Timestamp is more than 5 minutes from now")
    secrets_ = [shop.secret]
    if shop.previous_secret and shop.previous_valid_until and now < shop.previous_valid_until:
        secrets_.append(shop.previous_secret)
    if not any(hmac.compare_digest(sign(s, timestamp, body), signature) for s in secrets_):
        raise HookRefused(401, "bad signature: X-Signature must be sha256=<hex HMAC-SHA256 of timestamp.body>")
    return shop


# --- the event -------------------------------------------------------------------------------------

@dataclass
class OrderEvent:
    order_id: str
    event: str
    mobile: str | None
    external_id: str | None
    commission_fen: int
    amount_fen: int | None
    occurred_at: datetime


def _text_id(raw, name: str, errors: dict) -> str | None:
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str) or not raw.strip() or len(raw) > MAX_ID or not storable_text(raw):
        errors[name] = f"{name} is text of 1 to {MAX_ID} characters"
        return None
    return raw.strip()


def _money(raw, name: str, errors: dict) -> int | None:
    if not isinstance(raw, str):
        errors[name] = f'{name} is yuan as a string, such as "12.50"'
        return None
    try:
        return parse_yuan(raw)
    except ValueError as e:
        errors[name] = str(e.args[0])
        return None


def parse_event(body: bytes, now: datetime) -> OrderEvent:
    """The body's fields, every problem at once (HookRefused 422)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise HookRefused(422, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise HookRefused(422, "the body is a JSON object")
    errors = {name: "unknown field" for name in sorted(set(data) - BODY_FIELDS)}
    order_id = _text_id(data.get("order_id"), "order_id", errors)
    event = data.get("event")
    if event not in EVENTS:
        errors["event"] = "event is one of: paid, refunded, settled"
    mobile = external_id = None
    if data.get("external_id") is not None:
        external_id = _text_id(data["external_id"], "external_id", errors)
    elif data.get("mobile") is not None:
        try:
            mobile = normalize_mobile(data["mobile"]) if isinstance(data["mobile"], str) else None
        except DomainError:
            pass
        if mobile is None:
            errors["mobile"] = "mobile is a mobile number such as 13812345678"
    else:
        errors["mobile"] = "send mobile or external_id"
    commission = _money(data.get("commission"), "commission", errors)
    amount = _money(data["amount"], "amount", errors) if data.get("amount") is not None else None
    occurred_at = None
    raw_time = data.get("occurred_at")
    try:
        occurred_at = datetime.fromisoformat(raw_time) if isinstance(raw_time, str) else None
    except ValueError:
        pass
    if occurred_at is None or occurred_at.tzinfo is None:
        errors["occurred_at"] = "occurred_at is ISO 8601 with its offset, such as 2026-05-10T12:00:00+08:00"
    elif occurred_at > now + WINDOW:
        errors["occurred_at"] = "occurred_at is in the future"
    if errors:
        raise HookRefused(422, "some fields are not valid", errors)
    return OrderEvent(order_id, event, mobile, external_id, commission, amount, occurred_at)


def find_trainee(session: Session, shop: Shop, event: OrderEvent) -> User:
    """The active trainee the order is for: by the shop's external id (mapped by an admin), else her mobile."""
    if event.external_id is not None:
        user = session.scalar(sa.select(User).join(ShopMember, ShopMember.user_id == User.id).where(
            ShopMember.shop_id == shop.id, ShopMember.external_id == event.external_id))
    else:
        user = session.scalar(sa.select(User).where(User.mobile == event.mobile))
    if user is None or not user.is_active or not user.is_trainee:
        field = "external_id" if event.external_id is not None else "mobile"
        raise HookRefused(422, "no trainee with this mobile or external id", {field: "unknown trainee"})
    return user


@dataclass
class Received:
    order: ShopOrder
    is_duplicate: bool


def receive_order_event(session: Session, shop_key: str, timestamp: str, signature: str, body: bytes,
                        now: datetime) -> Received:
    """Verify, read and apply one order event (HookRefused when refused: nothing is stored)."""
    shop = verify(session, shop_key, timestamp, signature, body, now)
    event = parse_event(body, now)
    user = find_trainee(session, shop, event)
    order = session.scalar(sa.select(ShopOrder).where(ShopOrder.shop_id == shop.id,
                                                      ShopOrder.order_id == event.order_id))
    if order is not None and order.user_id != user.id:
        raise HookRefused(409, "this order id belongs to another trainee's order at this shop")
    seen = session.scalar(sa.select(ShopOrderEvent.id).where(
        ShopOrderEvent.shop_id == shop.id, ShopOrderEvent.order_id == event.order_id,
        ShopOrderEvent.event == event.event))
    if seen is not None:
        return Received(order, True)
    try:
        with session.begin_nested():  # a replay racing this one: the unique key lets one through
            session.add(ShopOrderEvent(shop_id=shop.id, order_id=event.order_id, event=event.event, user_id=user.id,
                                       commission_fen=event.commission_fen, occurred_at=event.occurred_at,
                                       received_at=now))
    except IntegrityError:
        return Received(order, True)
    return Received(apply_event(session, shop, user, order, event, now), False)


def apply_event(session: Session, shop: Shop, user: User, order: ShopOrder | None, event: OrderEvent,
                now: datetime) -> ShopOrder:
    day = event.occurred_at.astimezone(ZoneInfo(user.timezone)).date()
    days = set()
    if order is None:
        order = ShopOrder(shop_id=shop.id, order_id=event.order_id, user_id=user.id, day=day,
                          commission_fen=event.commission_fen, amount_fen=event.amount_fen)
        session.add(order)
    days.add(order.day)
    if event.event == "paid":
        order.paid_at, order.day = event.occurred_at, day  # the sale's day is the day she was paid for it
        order.commission_fen = event.commission_fen
        order.amount_fen = event.amount_fen if event.amount_fen is not None else order.amount_fen
    elif event.event == "settled":
        order.settled_at, order.commission_fen = event.occurred_at, event.commission_fen  # the final figure
    else:
        order.refunded_at = event.occurred_at
    order.updated_at = now
    session.flush()
    for changed in days | {order.day}:
        refresh_day(session, user, changed, now)
    return order


def refresh_day(session: Session, user: User, day: date, now: datetime) -> None:
    """Put the shop's commission for her day (orders not refunded) on the day's check-in row."""
    if day < programme_start(user):
        return  # before her programme: listed among her orders, counted for no milestone
    orders, commission = session.execute(
        sa.select(sa.func.count(ShopOrder.id),
                  sa.func.coalesce(sa.func.sum(ShopOrder.commission_fen).filter(ShopOrder.refunded_at.is_(None)), 0))
        .where(ShopOrder.user_id == user.id, ShopOrder.day == day)).one()
    set_shop_earnings(session, user, day, int(commission) if orders else None, now)


# --- external ids --------------------------------------------------------------------------------

def cohort_members(session: Session, cohort_id: int) -> list[ShopMember]:
    return list(session.scalars(sa.select(ShopMember).join(User, User.id == ShopMember.user_id)
                                .where(User.cohort_id == cohort_id).order_by(ShopMember.shop_id, User.name)))


def map_external_id(session: Session, shop: Shop, user: User, external_id: str, now: datetime) -> ShopMember:
    """Map a shop's id for her; raises ValueError when the id is not usable or already someone's."""
    external_id = _text_id(external_id, "external_id", {})
    if external_id is None:
        raise ValueError(_l("Enter the shop's id for her: 1 to %(n)d characters.", n=MAX_ID))
    taken = session.scalar(sa.select(ShopMember).where(ShopMember.shop_id == shop.id,
                                                       ShopMember.external_id == external_id))
    if taken is not None:
        raise ValueError(_l("This shop's id is already mapped to a trainee."))
    member = ShopMember(shop_id=shop.id, user_id=user.id, external_id=external_id, created_at=now)
    session.add(member)
    session.flush()
    return member
