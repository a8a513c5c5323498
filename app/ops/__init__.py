"""Operations: the production server, backups, structured logs, metrics and the proxy setting.

Two settings are read here, from the app's config (instance/config.py, or what tests pass) or else
the environment:

- LOG_LEVEL: the app logger's level (default INFO; WARNING under TESTING, so tests stay quiet).
- PROXY_FIX: the number of reverse proxies in front of the app that set X-Forwarded-For, -Proto and
  -Host (0, the default: none, headers ignored). Behind one nginx, set PROXY_FIX=1: without it every
  request seems to come from 127.0.0.1, and the login throttle per address counts everybody as one.
  Never set it on a server that clients reach directly: they could then choose their own address.
"""
import os

from werkzeug.middleware.proxy_fix import ProxyFix


def setting(app, name: str, default=None):
    """A setting from the app's config, else the environment, else the default."""
    value = app.config.get(name)
    if value is None:
        value = os.environ.get(name)
    return default if value is None or value == "" else value


def proxy_count(value) -> int:
    """PROXY_FIX: a number of proxies, or a yes/no flag meaning 1/0."""
    if isinstance(value, bool):
        return int(value)
    text = str(value).strip().lower()
    if text in ("true", "yes", "on"):
        return 1
    if text in ("false", "no", "off", ""):
        return 0
    try:
        count = int(text)
    except ValueError:
        raise ValueError(f"PROXY_FIX must be a number of proxies (0, 1, ...), not {value!r}") from None
    if count < 0:
        raise ValueError(f"PROXY_FIX must not be negative: {value!r}")
    return count


def init_app(app) -> None:
    """PROXY_FIX: trust the forwarded headers of that many proxies."""
    proxies = proxy_count(setting(app, "PROXY_FIX", 0))
    if proxies:
        # Only the headers our nginx snippet sets (overwriting the client's): a client-sent
        # X-Forwarded-Port or -Prefix would pass through nginx untouched, so they are not trusted.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=0, x_prefix=0)
