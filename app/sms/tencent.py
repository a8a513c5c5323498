"""Tencent Cloud SMS (SendSms, API 2021-01-11) through the official SDK, which signs each request with
TC3-HMAC-SHA256. SMS_ENDPOINT and SMS_SCHEME point it elsewhere (tests use a local http server)."""
import json

from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models, sms_client

from app.sms.errors import SmsProviderError

DEFAULT_ENDPOINT = "sms.tencentcloudapi.com"


def is_configured(config) -> bool:
    return bool(config.get("SMS_SECRET_ID") and config.get("SMS_SECRET_KEY") and config.get("SMS_SDK_APP_ID"))


def e164(mobile: str) -> str:
    """Our normalised numbers: 13812345678 (mainland China) or +4479... (already international)."""
    return mobile if mobile.startswith("+") else f"+86{mobile}"


def send(config, mobile: str, template_id: str, params: dict[str, str], reference: str = "") -> str:
    """Send one SMS; returns the provider's serial number. The template's {1}, {2}… take the values in order."""
    profile = HttpProfile(protocol=config.get("SMS_SCHEME") or "https",
                          endpoint=config.get("SMS_ENDPOINT") or DEFAULT_ENDPOINT,
                          reqTimeout=int(config.get("SMS_HTTP_TIMEOUT") or 5))
    client = sms_client.SmsClient(credential.Credential(config["SMS_SECRET_ID"], config["SMS_SECRET_KEY"]),
                                  config.get("SMS_REGION") or "ap-guangzhou", ClientProfile(httpProfile=profile))
    request = models.SendSmsRequest()
    request.PhoneNumberSet = [e164(mobile)]
    request.SmsSdkAppId = str(config["SMS_SDK_APP_ID"])
    request.SignName = config.get("SMS_SIGN_NAME") or ""
    request.TemplateId = str(template_id)
    request.TemplateParamSet = [str(p) for p in params.values()]
    request.SessionContext = reference[:500]
    try:
        # call() rather than SendSms(): this SDK version's SendSms() does not look at Response.Error.
        answer = json.loads(client.call("SendSms", request._serialize())).get("Response") or {}
    except TencentCloudSDKException as e:
        # Network problems come back without a code of Tencent's (ClientNetworkError, ServerNetworkError).
        code = e.get_code()
        raise SmsProviderError(None if not code or "NetworkError" in code else code,
                               str(e.get_message() or "")[:200]) from None
    except ValueError:
        raise SmsProviderError(None, "the answer is not JSON") from None
    if error := answer.get("Error"):
        raise SmsProviderError(str(error.get("Code")), str(error.get("Message", ""))[:200])
    statuses = answer.get("SendStatusSet") or []
    if not statuses:
        raise SmsProviderError("NoStatus", "the answer had no SendStatusSet")
    status = statuses[0]
    if status.get("Code") != "Ok":
        raise SmsProviderError(str(status.get("Code")), str(status.get("Message") or "")[:200])
    return status.get("SerialNo") or ""


def retry_after(code: str) -> int | None:
    """Tencent's own trouble: soon; its per-number limits: in an hour; anything else will not improve."""
    if code.startswith("InternalError") or code == "RequestLimitExceeded":
        return 0
    if code.startswith("LimitExceeded"):
        return 3600
    return None
