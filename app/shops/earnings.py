"""Her earnings centre: today, this week, this month, since she started; pending and settled commission; orders
and refunds. Every figure is in fen and comes from the day rows (checkins.service.day_earnings is the rule that a
day is counted once, from the shop when it reported orders that day) or from her shop orders."""
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.checkins.models import Checkin
from app.core.calendar import local_today
from app.shops.models import ShopOrder

RECENT_ORDERS = 20


@dataclass
class Earnings:
    today: int = 0
    week: int = 0           # Monday to today, her time
    month: int = 0
    total: int = 0
    pending: int = 0        # shop commission paid, not yet settled (orders not refunded)
    settled: int = 0
    from_shop: int = 0      # of the total: days the shop reported
    reported: int = 0       # of the total: days she (or her mentor's import) reported
    orders: int = 0         # shop orders not refunded
    refunds: int = 0
    recent_orders: list[ShopOrder] = field(default_factory=list)


def earnings_of(session: Session, user: User, now: datetime) -> Earnings:
    """Three queries: her day rows, her orders by state, her latest orders."""
    today = local_today(user, now)
    week_start, month_start = today - timedelta(days=today.weekday()), today.replace(day=1)
    out = Earnings()
    for day, fen, shop_fen in session.execute(sa.select(Checkin.day, Checkin.earnings_fen, Checkin.shop_earnings_fen)
                                              .where(Checkin.user_id == user.id)):
        out.total += fen
        out.today += fen if day == today else 0
        out.week += fen if week_start <= day <= today else 0
        out.month += fen if month_start <= day <= today else 0
        if shop_fen is not None:
            out.from_shop += fen
        else:
            out.reported += fen
    refunded, settled = ShopOrder.refunded_at.is_not(None), ShopOrder.settled_at.is_not(None)
    for is_refunded, is_settled, count, fen in session.execute(
            sa.select(refunded, settled, sa.func.count(ShopOrder.id), sa.func.sum(ShopOrder.commission_fen))
            .where(ShopOrder.user_id == user.id).group_by(refunded, settled)):
        if is_refunded:
            out.refunds += count
            continue
        out.orders += count
        if is_settled:
            out.settled += int(fen)
        else:
            out.pending += int(fen)
    out.recent_orders = list(session.scalars(sa.select(ShopOrder).where(ShopOrder.user_id == user.id)
                                             .order_by(ShopOrder.day.desc(), ShopOrder.id.desc()).limit(RECENT_ORDERS)))
    return out
