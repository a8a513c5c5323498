"""Photos in S3-compatible object storage (UPLOAD_STORAGE=s3), against a real S3 server on loopback
(moto in server mode, checking every request's signature): uploads and their sizes go to the bucket,
pages serve them under the same access rules as from disk, and a storage that is down or refuses
the keys gives her a clear message and keeps nothing (no row without its objects)."""
import io
import socket

import pytest
import sqlalchemy as sa
from PIL import Image
from werkzeug.datastructures import FileStorage

from app import create_app
from app.camp import photos, posters
from app.camp.models import FeedPost, Photo
from app.database import utcnow
from app.extensions import db
from tests.conftest import _test_config
from tests.factories import client_as, jpeg, make_cohort, make_user
from tests.servers import S3Server

MESSAGE = "Your photos could not be saved just now, and nothing was kept. Please try again in a few minutes."


def phone_photo(size=(900, 600), color=(200, 90, 40)):
    """A (stream, file name) pair, as a phone's upload arrives in a form."""
    return io.BytesIO(jpeg(size=size, color=color)), "IMG_0001.jpg"


@pytest.fixture(scope="module")
def s3_module():
    """One server for the module (starting one takes seconds); each test starts with an empty bucket."""
    with S3Server() as server:
        yield server


@pytest.fixture
def s3_server(s3_module):
    yield s3_module
    s3_module.empty()


@pytest.fixture
def s3_app(app, s3_server, tmp_path):
    app.config.update(s3_server.config(), UPLOAD_DIR=str(tmp_path / "never"))
    return app


@pytest.fixture
def people(app):
    a, b = make_cohort("Cohort A", "AAAA1"), make_cohort("Cohort B", "BBBB1")
    return type("People", (), {
        "mei": make_user("mei@example.com", cohort=a, name="Mei", locale="en"),
        "lan": make_user("lan@example.com", cohort=a, name="Lan", locale="en"),
        "bo": make_user("bo@example.com", cohort=b, name="Bo", locale="en")})


def post_win(client, text="First order!", count=2):
    return client.post("/feed", data={"text": text, "photos": [phone_photo() for _ in range(count)]},
                       content_type="multipart/form-data")


def stored_counts():
    return (db.session.scalar(sa.select(sa.func.count(Photo.id))),
            db.session.scalar(sa.select(sa.func.count(FeedPost.id))))


def test_uploads_and_their_sizes_go_to_the_bucket_and_are_served_under_the_same_rules(s3_app, s3_server, people, tmp_path):
    mei = client_as(s3_app, people.mei)
    assert post_win(mei).status_code == 302
    stored = db.session.scalars(sa.select(Photo).order_by(Photo.id)).all()
    objects = s3_server.objects()
    assert sorted(objects) == sorted(photos.sized_key(p.storage_key, size)
                                     for p in stored for size in ("full", "thumb", "medium"))
    assert not (tmp_path / "never").exists()  # nothing on this machine's disk
    photo = stored[0]
    with Image.open(io.BytesIO(objects[photos.sized_key(photo.storage_key, "thumb")])) as thumb:
        assert thumb.size == (photo.thumb_width, photo.thumb_height) == (320, 213)

    html = mei.get("/feed").text
    assert f'src="/photos/{photo.id}-thumb.jpg"' in html and f'href="/photos/{photo.id}.jpg"' in html
    for suffix, size in ((".jpg", "full"), ("-thumb.jpg", "thumb"), ("-medium.jpg", "medium")):
        url = f"/photos/{photo.id}{suffix}"
        response = mei.get(url)
        assert response.status_code == 200 and response.mimetype == "image/jpeg"
        assert response.data == objects[photos.sized_key(photo.storage_key, size)]
        assert response.headers["Cache-Control"] == "private, max-age=86400"
        assert client_as(s3_app, people.lan).get(url).status_code == 200   # her cohort sees her win
        assert client_as(s3_app, people.bo).get(url).status_code == 404    # another cohort does not
        assert client_as(s3_app).get(url).status_code == 404               # nor a visitor
    # No bucket address ever reaches a browser.
    assert s3_server.endpoint not in html and s3_server.bucket not in html


def test_a_storage_that_is_down_gives_a_clear_message_and_keeps_nothing(s3_app, people):
    with socket.socket() as probe:  # a port where nothing listens: the storage is down
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    s3_app.config["S3_ENDPOINT"] = f"http://127.0.0.1:{closed}"
    mei = client_as(s3_app, people.mei)
    response = post_win(mei, text="My first order")
    assert response.status_code == 422
    assert MESSAGE in response.text and "My first order</textarea>" in response.text  # her words kept
    assert stored_counts() == (0, 0)


def test_keys_the_storage_refuses_keep_nothing_either(s3_app, s3_server, people):
    s3_app.config["S3_SECRET_KEY"] = "not-the-secret"   # every request's signature is wrong
    response = post_win(client_as(s3_app, people.mei))
    assert response.status_code == 422 and MESSAGE in response.text
    assert stored_counts() == (0, 0) and s3_server.objects() == {}


def test_a_failure_midway_removes_the_objects_already_written(s3_app, s3_server, people, monkeypatch):
    real_save, calls = photos.S3Storage.save, []

    def save(self, key, data):
        calls.append(key)
        if len(calls) == 5:  # the second photo's thumbnail
            raise photos.StorageUnavailable("connection reset")
        real_save(self, key, data)
    monkeypatch.setattr(photos.S3Storage, "save", save)
    response = post_win(client_as(s3_app, people.mei))
    assert response.status_code == 422 and MESSAGE in response.text
    assert len(calls) == 5 and stored_counts() == (0, 0) and s3_server.objects() == {}


def test_a_photo_is_503_while_the_storage_is_down_and_back_after(s3_app, s3_server, people):
    mei = client_as(s3_app, people.mei)
    assert post_win(mei, count=1).status_code == 302
    photo = db.session.scalar(sa.select(Photo))
    endpoint = s3_app.config["S3_ENDPOINT"]
    s3_app.config["S3_ENDPOINT"] = "http://127.0.0.1:9"   # discard port: nothing answers
    assert mei.get(f"/photos/{photo.id}-thumb.jpg").status_code == 503
    s3_app.config["S3_ENDPOINT"] = endpoint
    assert mei.get(f"/photos/{photo.id}-thumb.jpg").status_code == 200
    s3_server.client().delete_object(Bucket=s3_server.bucket, Key=photo.storage_key)
    assert mei.get(f"/photos/{photo.id}.jpg").status_code == 404        # an object that is gone


def test_older_photos_get_their_sizes_in_the_bucket(s3_app, s3_server, people):
    photo = photos.save_upload(db.session, people.mei, FileStorage(*phone_photo()), utcnow())
    storage = photos.get_storage()
    for size in photos.SIZES:
        storage.delete(photos.sized_key(photo.storage_key, size))
    photo.thumb_width = photo.thumb_height = None
    db.session.commit()
    result = s3_app.test_cli_runner().invoke(args=["photos", "sizes"])
    assert "1 photo(s)" in result.output, result.output
    assert len(s3_server.objects()) == 3


@pytest.mark.parametrize("settings,problem", [
    ({"UPLOAD_STORAGE": "s3", "S3_ACCESS_KEY": "k", "S3_SECRET_KEY": "s"}, "UPLOAD_STORAGE=s3 needs S3_BUCKET"),
    ({"UPLOAD_STORAGE": "ftp"}, "UPLOAD_STORAGE must be local or s3"),
])
def test_settings_that_cannot_work_stop_the_start(database_url, settings, problem):
    with pytest.raises(RuntimeError, match=problem):
        create_app(_test_config(database_url, **settings))


def test_the_settings_come_from_the_environment(database_url, monkeypatch):
    monkeypatch.setenv("UPLOAD_STORAGE", "s3")
    for name, value in {"S3_ENDPOINT": "https://cos.ap-shanghai.myqcloud.com", "S3_BUCKET": "photos-1250000000",
                        "S3_ACCESS_KEY": "AKID", "S3_SECRET_KEY": "secret", "S3_REGION": "ap-shanghai"}.items():
        monkeypatch.setenv(name, value)
    app = create_app(_test_config(database_url))
    with app.app_context():
        storage = photos.get_storage()
        assert isinstance(storage, photos.S3Storage) and storage.bucket == "photos-1250000000"
        assert storage.client.meta.region_name == "ap-shanghai"
        assert storage.client.meta.endpoint_url == "https://cos.ap-shanghai.myqcloud.com"


def test_s3_storage_takes_only_its_own_keys(app, s3_server):
    app.config.update(s3_server.config())
    storage = photos.get_storage()
    for key in ("../secret.jpg", "a/b.jpg", "abc.jpg"):
        with pytest.raises(ValueError):
            storage.save(key, b"x")
    with pytest.raises(FileNotFoundError):
        storage.open("0123456789abcdef0123456789abcdef.jpg")
    storage.delete("0123456789abcdef0123456789abcdef.jpg")  # already gone is fine


def test_invite_posters_are_drawn_once_and_kept_in_the_bucket(s3_app, s3_server, people, monkeypatch):
    visitor = client_as(s3_app)
    first = visitor.get("/invite/AAAA1/poster.png")
    assert first.status_code == 200 and first.mimetype == "image/png"
    [(key, stored)] = s3_server.objects().items()
    assert key.endswith(".png") and stored == first.data

    def no_drawing(*args):
        raise AssertionError("drawn again")
    monkeypatch.setattr(posters, "invite_poster", no_drawing)
    assert visitor.get("/invite/AAAA1/poster.png").data == first.data     # another machine: from the bucket
    monkeypatch.undo()

    s3_app.config["S3_ENDPOINT"] = "http://127.0.0.1:9"                    # the storage is down: drawn
    english = visitor.get("/invite/AAAA1/poster.png", headers={"Accept-Language": "en"})
    assert english.status_code == 200 and english.mimetype == "image/png" and english.data != first.data
