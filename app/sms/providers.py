"""Which SMS provider sends (`SMS_PROVIDER`: `tencent` or `aliyun`), behind one `send()`.

Parameters are named: Aliyun fills a template's ${name} variables by name, Tencent Cloud its {1}, {2}…
in the order given. A login code goes out as {"code": "123456"}: the first parameter for Tencent."""
from app.sms import aliyun, tencent
from app.sms.errors import SmsProviderError

PROVIDERS = {"tencent": tencent, "aliyun": aliyun}

__all__ = ["PROVIDERS", "SmsProviderError", "is_configured", "retry_after", "send"]


def _provider(config):
    return PROVIDERS.get((config.get("SMS_PROVIDER") or "tencent").strip().lower())


def is_configured(config) -> bool:
    provider = _provider(config)
    return provider is not None and provider.is_configured(config)


def send(config, mobile: str, template: str, params: dict[str, str], reference: str = "") -> str:
    """Send one text through the configured provider; returns its id for the message.
    Raises SmsProviderError (code None when the provider could not be reached)."""
    provider = _provider(config)
    if provider is None:
        raise SmsProviderError("UnknownProvider", f"SMS_PROVIDER {config.get('SMS_PROVIDER')!r}")
    return provider.send(config, mobile, template, params, reference)


def retry_after(config, code: str | None) -> int | None:
    """After this error, try again in so many seconds (0: the outbox's usual back-off), or None: never."""
    if code is None:   # not reached: down or slow
        return 0
    provider = _provider(config)
    return provider.retry_after(code) if provider is not None else None
