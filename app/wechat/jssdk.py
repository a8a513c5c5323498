"""The JS-SDK signature (附录1): SHA-1 over jsapi_ticket, noncestr, timestamp and url, in that order."""
import hashlib
import secrets
from datetime import datetime
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy.orm import Session

from app.wechat import client


def signature(ticket: str, nonce: str, timestamp: int, url: str) -> str:
    text = f"jsapi_ticket={ticket}&noncestr={nonce}&timestamp={timestamp}&url={url}"
    return hashlib.sha1(text.encode()).hexdigest()


def is_our_page(url: str, base_url: str) -> bool:
    """Only our own pages are signed: same scheme and host as the site's address (`base_url()`)."""
    ours, theirs = urlsplit(base_url), urlsplit(url)
    return bool(url) and theirs.scheme == ours.scheme and theirs.netloc == ours.netloc and len(url) <= 2000


def sign_page(session: Session, url: str, now: datetime) -> dict:
    nonce, timestamp = secrets.token_hex(8), int(now.timestamp())
    ticket = client.jsapi_ticket(session, now)
    return {"appId": current_app.config["WECHAT_APP_ID"], "timestamp": timestamp, "nonceStr": nonce,
            "signature": signature(ticket, nonce, timestamp, url)}
