"""Static text files (CSS, JS, SVG...) sent gzipped to browsers that accept it.

Bootstrap's CSS is 232 KB as it is and 31 KB gzipped: on a phone's first view of a page that is most of
the weight (tests/test_pages_quality.py keeps a lesson's first view under 150 KB). nginx in front
(docs/deployment.md) does not compress, so the app does, for the static endpoints only:

- pages are left alone: they are small, differ on every request, and carry the CSRF token next to
  text that users write, which is what a compression side channel (BREACH) needs;
- each file is compressed once per process and version (the key is its ETag, which changes with the
  file's mtime and size), so a request costs a dictionary look-up;
- the gzipped copy has its own ETag (the file's with "-gzip"), answers If-None-Match with a 304, and
  every answer says Vary: Accept-Encoding so caches keep the two copies apart.
"""
import gzip

from flask import request

TEXT_TYPES = ("text/", "application/javascript", "application/json", "image/svg+xml")
MIN_SIZE = 1024          # below this, gzip's header and the CPU are not worth it
_cache: dict[str, bytes] = {}


def compress_static(response):
    endpoint = request.endpoint or ""
    if not (endpoint == "static" or endpoint.endswith(".static")) or not (response.mimetype or "").startswith(TEXT_TYPES):
        return response
    response.vary.add("Accept-Encoding")
    if (response.status_code != 200 or "Content-Encoding" in response.headers or "Range" in request.headers
            or not request.accept_encodings["gzip"] or (response.content_length or 0) < MIN_SIZE):
        return response
    etag, weak = response.get_etag()
    key = etag and f"{request.endpoint}:{etag}"
    body = _cache.get(key) if key else None
    sent = response.response                  # send_file's file wrapper
    try:
        if body is None:
            body = gzip.compress(b"".join(sent), compresslevel=9, mtime=0)
            if key:
                _cache[key] = body
    finally:
        if hasattr(sent, "close"):
            sent.close()
    response.direct_passthrough = False
    response.set_data(body)
    response.headers["Content-Encoding"] = "gzip"
    response.headers.pop("Accept-Ranges", None)   # byte ranges of the file, not of its gzipped copy
    if etag:
        response.set_etag(f"{etag}-gzip", weak=weak)
        response.make_conditional(request)        # If-None-Match: "...-gzip" -> 304
    return response


def init_app(app) -> None:
    app.after_request(compress_static)
