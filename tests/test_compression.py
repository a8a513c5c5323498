"""Static text files go gzipped to browsers that accept it (app/compression.py); pages never do.

Responses are read whole and closed: an uncompressed static file is sent from an open file, which the
test client would otherwise leave open (a ResourceWarning, an error under this suite's settings).
"""
import gzip

BOOTSTRAP = "/bootstrap/static/css/bootstrap.min.css"


def get(client, url, headers=None):
    response = client.get(url, headers=headers or {})
    response.get_data()
    response.close()
    return response


def test_static_css_is_gzipped_when_accepted_and_the_same_file_once_unzipped(client):
    plain = get(client, BOOTSTRAP)
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    assert "Accept-Encoding" in plain.headers["Vary"]

    zipped = get(client, BOOTSTRAP, {"Accept-Encoding": "gzip, deflate, br"})
    assert zipped.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in zipped.headers["Vary"]
    assert int(zipped.headers["Content-Length"]) == len(zipped.data) < len(plain.data) / 5
    assert gzip.decompress(zipped.data) == plain.data
    assert zipped.headers["ETag"] != plain.headers["ETag"] and "Accept-Ranges" not in zipped.headers


def test_the_gzipped_copy_revalidates_with_its_own_etag(client):
    first = get(client, "/static/app.css", {"Accept-Encoding": "gzip"})
    again = get(client, "/static/app.css", {"Accept-Encoding": "gzip", "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    plain_etag = get(client, "/static/app.css").headers["ETag"]
    identity = get(client, "/static/app.css", {"If-None-Match": plain_etag})
    assert identity.status_code == 304


def test_ranges_and_refusals_get_the_file_as_it_is(client):
    part = get(client, BOOTSTRAP, {"Accept-Encoding": "gzip", "Range": "bytes=0-9"})
    assert part.status_code == 206 and len(part.data) == 10 and "Content-Encoding" not in part.headers
    refused = get(client, BOOTSTRAP, {"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in refused.headers


def test_pages_are_not_compressed(client):
    page = get(client, "/login", {"Accept-Encoding": "gzip"})
    assert page.status_code == 200 and "Content-Encoding" not in page.headers
