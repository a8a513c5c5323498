"""Email: one message per reminder, text and HTML, in the recipient's language."""
import hashlib
import re
import smtplib
import ssl
from email import policy
from email.message import EmailMessage
from email.utils import formataddr, formatdate, parseaddr
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import force_locale, gettext

from app.reminders.channels import Channel, Dead, Rendered, Retry
from app.reminders.models import OutboxMessage

# The default policy folds a header longer than 78 characters, and a long URL with no space to fold at
# comes out RFC 2047-encoded (=?utf-8?q?...?=): List-Unsubscribe must stay a raw <https://...> for mail
# clients to offer their unsubscribe button. Lines may be 998 characters long (RFC 5322).
EMAIL_POLICY = policy.SMTP.clone(max_line_length=998)


def message_id(key: str, sender: str) -> str:
    """The same outbox key always gives the same Message-ID, so a re-sent copy is recognisably
    the same message (clients thread or drop it); hashed, as keys are not valid id syntax."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}.reminder@{domain}>"


def web_url(url: str | None) -> str | None:
    """Only http(s) links go into an email (escaping alone would let javascript: through)."""
    return url if url and urlsplit(url).scheme in ("http", "https") else None


def build_email(message: OutboxMessage, content: Rendered, sender: str) -> EmailMessage:
    link, unsubscribe = web_url(content.link), web_url(content.unsubscribe_url)
    with force_locale("zh_CN" if content.lang == "zh" else "en"):
        open_label, why = gettext("Open"), gettext("You get this because you are in Xiaob Academy.")
        unsubscribe_label = gettext("Unsubscribe from these emails")
        paragraphs = [p.splitlines() for p in re.split(r"\n\s*\n", content.body.strip()) if p.strip()]
        # Not render_template(): the site's context processors expect a request and a user.
        html = current_app.jinja_env.get_template("reminders/email.html").render(
            content=content, paragraphs=paragraphs, link=link, unsubscribe_url=unsubscribe, lang=content.lang)
    text = [content.title, "", content.body.strip()]
    if link:
        text += ["", f"{open_label}: {link}"]
    text += ["", "-- ", why]
    if unsubscribe:
        text.append(f"{unsubscribe_label}: {unsubscribe}")

    email = EmailMessage(policy=EMAIL_POLICY)
    email["Subject"] = content.title
    email["From"] = sender
    email["To"] = formataddr((message.user.name or "", message.user.email))
    email["Date"] = formatdate(usegmt=True)
    email["Message-ID"] = message_id(message.key, sender)
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies to us
    if unsubscribe:
        # RFC 8058: mail clients show an unsubscribe button that POSTs to the URL in one click.
        email["List-Unsubscribe"] = f"<{unsubscribe}>"
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email.set_content("\n".join(text) + "\n")
    email.add_alternative(html, subtype="html")
    return email


class EmailChannel(Channel):
    name = "email"

    def send(self, message: OutboxMessage, content: Rendered) -> None:
        config = current_app.config
        host = config.get("SMTP_HOST")
        if not host:
            raise Dead("email is not configured")
        if message.user is None or not message.user.email:
            raise Dead("no email address")
        sender = config.get("SMTP_FROM") or "Xiaob Academy <noreply@localhost>"
        email = build_email(message, content, sender)

        port, timeout = int(config.get("SMTP_PORT", 25)), float(config.get("SMTP_TIMEOUT", 30))
        try:
            if config.get("SMTP_SSL", False):  # implicit TLS, usually port 465
                smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(host, port, timeout=timeout)
            with smtp:
                if config.get("SMTP_STARTTLS", False):
                    smtp.starttls(context=ssl.create_default_context())
                if config.get("SMTP_USERNAME"):
                    smtp.login(config["SMTP_USERNAME"], config.get("SMTP_PASSWORD") or "")
                smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as error:
            reason = f"address refused: {_reply(error.recipients)}"
            if all(400 <= code < 500 for code, _ in error.recipients.values()):
                raise Retry(reason) from error  # greylisting, a full mailbox: may pass later
            raise Dead(reason) from error
        except (smtplib.SMTPAuthenticationError, smtplib.SMTPSenderRefused, smtplib.SMTPNotSupportedError) as error:
            # Our settings are wrong: every email fails until an admin fixes them.
            if isinstance(error, smtplib.SMTPResponseException) and error.smtp_code < 500:
                raise Retry(f"SMTP {error.smtp_code} {_text(error.smtp_error)}") from error
            raise Dead(f"SMTP settings: {error}", notify_admin=True) from error
        except smtplib.SMTPResponseException as error:  # the server said no: 4xx later, 5xx never
            reason = f"SMTP {error.smtp_code} {_text(error.smtp_error)}"
            if error.smtp_code >= 500:
                raise Dead(reason) from error
            raise Retry(reason) from error
        except (smtplib.SMTPException, OSError) as error:  # refused, timeout, disconnected, TLS
            raise Retry(f"SMTP {type(error).__name__} {error}".strip()) from error


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def _reply(recipients: dict) -> str:
    return "; ".join(f"{code} {_text(text)}" for code, text in recipients.values())
