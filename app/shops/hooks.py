"""POST /api/v1/hooks/orders: a shop's signed order event (paid, refunded, settled). See docs/integrations.md."""
from flask import Blueprint, jsonify, request
from flask_babel import force_locale

from app.core.money import format_yuan
from app.database import utcnow
from app.extensions import csrf, db
from app.shops import service

bp = Blueprint("hooks", __name__, url_prefix="/api/v1/hooks")
csrf.exempt(bp)  # signed by the shop, no cookie involved

MAX_BODY = 16 * 1024


@bp.errorhandler(400)
def bad_request(e):
    return jsonify(error="the request cannot be read: no NUL characters in the address or the query"), 400


@bp.post("/orders")
def orders():
    headers = request.headers
    if (request.content_length or 0) > MAX_BODY:
        return jsonify(error=f"the body is larger than {MAX_BODY} bytes"), 413
    body = request.get_data(cache=False)  # the raw bytes, exactly as signed
    with force_locale("en"):  # messages for the shop's developers
        try:
            received = service.receive_order_event(
                db.session, headers.get("X-Shop-Id", ""), headers.get("X-Timestamp", ""),
                headers.get("X-Signature", ""), body, utcnow())
        except service.HookRefused as e:
            db.session.rollback()
            return jsonify(error=e.message, **({"fields": e.fields} if e.fields else {})), e.status
    db.session.commit()
    order = received.order
    return jsonify(result="duplicate" if received.is_duplicate else "applied",
                   order={"order_id": order.order_id, "state": order.state, "day": order.day.isoformat(),
                          "commission": format_yuan(order.commission_fen)} if order is not None else None)
