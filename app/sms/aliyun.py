"""Aliyun SMS (dysmsapi SendSms, API 2017-05-25), signed as Alibaba Cloud's RPC APIs are: HMAC-SHA1 over
the sorted, percent-encoded parameters, keyed with the AccessKey secret and "&". A small client of our
own: the official SDK pulls in a large runtime for this one call. SMS_ENDPOINT and SMS_SCHEME point it
elsewhere (tests use a local http server that recomputes the signature)."""
import base64
import hashlib
import hmac
import json
import uuid
from datetime import datetime, timezone
from urllib.parse import quote

import requests

from app.sms.errors import SmsProviderError

DEFAULT_ENDPOINT = "dysmsapi.aliyuncs.com"
VERSION = "2017-05-25"


def is_configured(config) -> bool:
    return bool(config.get("SMS_SECRET_ID") and config.get("SMS_SECRET_KEY") and config.get("SMS_SIGN_NAME"))


def percent_encode(text: str) -> str:
    """RFC 3986, as the signature needs: only A-Z a-z 0-9 - _ . ~ stay as they are; a space is %20."""
    return quote(text, safe="-_.~")


def signature(secret: str, method: str, params: dict[str, str]) -> str:
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))
    to_sign = f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def number(mobile: str) -> str:
    """Mainland numbers as they are (13812345678); others with their country code and no "+"."""
    return mobile[1:] if mobile.startswith("+") else mobile


def send(config, mobile: str, template: str, params: dict[str, str], reference: str = "") -> str:
    """Send one SMS; returns Aliyun's BizId. `params` fill the template's ${name} variables."""
    fields = {
        "AccessKeyId": config["SMS_SECRET_ID"], "Action": "SendSms", "Format": "JSON", "Version": VERSION,
        "RegionId": config.get("SMS_REGION") or "cn-hangzhou",
        "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", "SignatureNonce": uuid.uuid4().hex,
        "Timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "PhoneNumbers": number(mobile), "SignName": config.get("SMS_SIGN_NAME") or "", "TemplateCode": str(template),
        "TemplateParam": json.dumps({k: str(v) for k, v in params.items()}, ensure_ascii=False),
    }
    if reference:
        fields["OutId"] = reference[:256]
    fields["Signature"] = signature(config["SMS_SECRET_KEY"], "POST", fields)
    url = f"{config.get('SMS_SCHEME') or 'https'}://{config.get('SMS_ENDPOINT') or DEFAULT_ENDPOINT}/"
    try:
        response = requests.post(url, data=fields, timeout=int(config.get("SMS_HTTP_TIMEOUT") or 5))
        answer = response.json()
    except requests.RequestException as e:
        raise SmsProviderError(None, type(e).__name__) from None
    except ValueError:
        raise SmsProviderError(None, f"HTTP {response.status_code}, not JSON") from None
    if not isinstance(answer, dict) or answer.get("Code") != "OK":
        answer = answer if isinstance(answer, dict) else {}
        raise SmsProviderError(str(answer.get("Code") or f"HTTP{response.status_code}"),
                               str(answer.get("Message") or "")[:200])
    return str(answer.get("BizId") or "")


def retry_after(code: str) -> int | None:
    """Aliyun's own trouble (isp.*, throttling): soon; its per-number limits: in an hour; else never."""
    if code.startswith("isp.") or code in ("Throttling", "ServiceUnavailable") or code.startswith("HTTP5"):
        return 0
    if code in ("isv.BUSINESS_LIMIT_CONTROL", "isv.DAY_LIMIT_CONTROL"):
        return 3600
    return None
