"""Photo uploads: refused input stores nothing; what is stored is a clean, upright JPEG."""
import io
import os
import struct
import zlib

import pytest
import sqlalchemy as sa
from flask_babel import force_locale
from PIL import Image, ImageFile
from werkzeug.datastructures import FileStorage

from app.camp import photos
from app.camp.models import Photo
from app.database import utcnow
from app.extensions import db
from app.core.errors import DomainError
from tests.conftest import make_user


@pytest.fixture
def upload_dir(tmp_path):
    return tmp_path / "uploads"


@pytest.fixture
def user(app):
    return make_user("mei@example.com")


def upload(data: bytes, filename: str = "photo.jpg", content_type: str = "image/jpeg") -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=filename, content_type=content_type)


def image_bytes(fmt: str = "JPEG", size=(64, 48), color=(200, 30, 30), **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, fmt, **save)
    return out.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A few hundred bytes claiming width x height pixels: a decompression bomb's header."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b""))


def assert_nothing_stored(upload_dir):
    files = list(upload_dir.iterdir()) if upload_dir.exists() else []
    assert files == []
    assert db.session.scalar(sa.select(sa.func.count(Photo.id))) == 0


def in_english(message) -> str:
    """A lazy message in English, whatever the catalogue holds (the default locale is Chinese)."""
    with force_locale("en"):
        return str(message)


def refused(user, file_storage) -> str:
    with pytest.raises(DomainError) as caught:
        photos.save_upload(db.session, user, file_storage, utcnow())
    db.session.rollback()
    return in_english(caught.value.message)


def test_a_text_file_named_jpg_is_refused_and_nothing_is_stored(user, upload_dir):
    message = refused(user, upload(b"just some text, not a photo\n" * 20))
    assert "JPEG, PNG or WebP" in message
    assert_nothing_stored(upload_dir)


def test_an_empty_file_is_refused(user, upload_dir):
    assert "Choose a photo" in refused(user, upload(b""))
    assert_nothing_stored(upload_dir)


def test_an_oversize_file_is_refused_before_it_is_decoded(app, user, upload_dir):
    app.config["UPLOAD_MAX_BYTES"] = 1024 * 1024
    noise = Image.frombytes("RGB", (700, 700), os.urandom(700 * 700 * 3))  # noise does not compress
    out = io.BytesIO()
    noise.save(out, "PNG")  # a real image, only too big
    assert len(out.getvalue()) > 1024 * 1024
    message = refused(user, upload(out.getvalue(), "big.png", "image/png"))
    assert "too big" in message and "1 MB" in message
    assert_nothing_stored(upload_dir)


def solid_png(width: int, height: int) -> bytes:
    """A real, complete PNG of one colour: tiny on disk, huge once decoded (rows compressed as they come,
    so the test never holds the pixels either)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    packer, row, idat = zlib.compressobj(9), b"\x00" + b"\xf0\x80\x60" * width, []
    for _ in range(height):
        idat.append(packer.compress(row))
    idat.append(packer.flush())
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", b"".join(idat)) + chunk(b"IEND", b""))


@pytest.fixture
def no_decoding(monkeypatch):
    """Any attempt to decode pixels fails the test: a refusal must come from the header alone."""
    def load(self):
        raise AssertionError(f"decoded a {self.size} {self.format} image")
    monkeypatch.setattr(ImageFile.ImageFile, "load", load)


def test_a_small_png_of_36_megapixels_is_refused_from_its_header(user, upload_dir, no_decoding):
    png = solid_png(6000, 6000)
    with Image.open(io.BytesIO(png)) as check:  # a real PNG: 36 MP declared, ~100 KB on the wire
        assert check.size == (6000, 6000) and len(png) < 200_000
    file = upload(png, "long-screenshot.png", "image/png")
    message = refused(user, file)
    assert message == "This image is too large: at most 16 megapixels."
    with force_locale("zh"):
        file.stream.seek(0)
        with pytest.raises(DomainError) as caught:
            photos.save_upload(db.session, user, file, utcnow())
        assert str(caught.value.message) == "图片尺寸太大：最多 16 百万像素。"
    db.session.rollback()
    assert_nothing_stored(upload_dir)


def test_a_big_jpeg_is_decoded_at_a_reduced_scale_within_the_budget(user, monkeypatch):
    """A 50 MP phone photo (over the budget declared) is decoded at half scale (12.5 MP): accepted."""
    decoded = []
    real_load = ImageFile.ImageFile.load

    def load(self):
        decoded.append(self.size)
        return real_load(self)
    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    big = image_bytes(size=(8160, 6120), quality=50)
    photo = photos.save_upload(db.session, user, upload(big, "IMG_5000.jpg"), utcnow())
    assert set(decoded) == {(4080, 3060)}  # load() is called again by later steps: a no-op
    assert (photo.width, photo.height) == (2048, 1536)


@pytest.mark.parametrize("width,height", [(8000, 6000),      # 48 MP PNG: over our 16 MP budget
                                          (10_000, 10_000),  # 100 MP: Pillow warns (an error under pytest)
                                          (30_000, 30_000)])  # 900 MP: Pillow refuses
def test_a_decompression_bomb_is_refused_from_its_header(user, upload_dir, width, height):
    bomb = png_declaring(width, height)
    assert len(bomb) < 1000
    assert "megapixels" in refused(user, upload(bomb, "bomb.png", "image/png"))
    assert_nothing_stored(upload_dir)


def test_a_gif_is_refused(user, upload_dir):
    assert "JPEG, PNG or WebP" in refused(user, upload(image_bytes("GIF"), "funny.gif", "image/gif"))
    assert_nothing_stored(upload_dir)


@pytest.mark.parametrize("filename", ["logo.svg", "logo.jpg"])
def test_an_svg_with_a_script_is_refused(user, upload_dir, filename):
    svg = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
           b'<script>alert(document.cookie)</script><rect width="10" height="10"/></svg>')
    assert "JPEG, PNG or WebP" in refused(user, upload(svg, filename, "image/svg+xml"))
    assert_nothing_stored(upload_dir)


def test_heic_gets_its_own_explanation(user, upload_dir):
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 100
    assert "HEIC" in refused(user, upload(heic, "IMG_0001.HEIC", "image/heic"))
    assert_nothing_stored(upload_dir)


def test_a_truncated_jpeg_is_refused(user, upload_dir):
    data = image_bytes(size=(400, 300))
    assert refused(user, upload(data[:len(data) // 2]))
    assert_nothing_stored(upload_dir)


def test_one_bad_photo_among_several_stores_none_of_them(user, upload_dir):
    with pytest.raises(DomainError):
        photos.save_uploads(db.session, user, [upload(image_bytes()), upload(b"not an image")], utcnow())
    db.session.rollback()
    assert_nothing_stored(upload_dir)
    with pytest.raises(DomainError) as caught:
        photos.save_uploads(db.session, user, [upload(image_bytes()) for _ in range(4)], utcnow())
    assert "At most 3" in in_english(caught.value.message)
    assert_nothing_stored(upload_dir)


def gps_jpeg() -> bytes:
    """A wide photo taken "sideways" (orientation 6), with GPS, camera, XMP, an ICC profile and a comment."""
    image = Image.new("RGB", (200, 100), (220, 20, 20))
    image.paste((20, 20, 220), (100, 0, 200, 100))  # left half red, right half blue
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"        # Make
    exif[0x0110] = "Phone 15"          # Model
    exif[0x0112] = 6                   # Orientation: turn 90° clockwise to view
    exif[0x8825] = {1: "N", 2: (31.0, 13.0, 52.0), 3: "E", 4: (121.0, 28.0, 15.0)}  # GPSInfo
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/">secret place</x:xmpmeta>',
               comment=b"home address", icc_profile=b"\0" * 128)
    return out.getvalue()


def test_a_photo_with_gps_is_stored_without_any_metadata_and_upright(user, upload_dir):
    original = gps_jpeg()
    with Image.open(io.BytesIO(original)) as check:  # the test photo really carries what we remove
        assert check.getexif().get_ifd(0x8825)[1] == "N"
        assert "xmp" in check.info and check.getexif()[0x0112] == 6

    photo = photos.save_upload(db.session, user, upload(original, "../../IMG_0001.jpg"), utcnow())
    db.session.commit()

    assert photo.storage_key != "IMG_0001.jpg" and "/" not in photo.storage_key
    stem = photo.storage_key.removesuffix(".jpg")
    assert sorted(p.name for p in upload_dir.iterdir()) == [f"{stem}-medium.jpg", f"{stem}-thumb.jpg", f"{stem}.jpg"]
    stored = photos.get_storage().open(photo.storage_key)
    assert photo.size == len(stored) and photo.content_type == "image/jpeg"
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG"
        assert dict(image.getexif()) == {} and image.getexif().get_ifd(0x8825) == {}
        for key in ("exif", "xmp", "icc_profile", "comment"):
            assert key not in image.info, key
        # Orientation applied: the wide photo is now tall, its left (red) half on top.
        assert image.size == (100, 200) == (photo.width, photo.height)
        top, bottom = image.convert("RGB").getpixel((50, 40)), image.convert("RGB").getpixel((50, 160))
        assert top[0] > 150 > top[2] and bottom[2] > 150 > bottom[0]
    for size in ("full", "thumb", "medium"):
        data = photos.get_storage().open(photos.sized_key(photo.storage_key, size))
        for marker in (b"Exif", b"PhoneMaker", b"secret place", b"home address", b"adobe:ns:meta"):
            assert marker not in data, size


def test_large_photos_are_scaled_down_and_transparency_becomes_white(user):
    out = io.BytesIO()
    Image.new("RGBA", (3000, 1000), (0, 0, 0, 0)).save(out, "PNG")
    photo = photos.save_upload(db.session, user, upload(out.getvalue(), "wide.png", "image/png"), utcnow())
    with Image.open(io.BytesIO(photos.get_storage().open(photo.storage_key))) as image:
        assert max(image.size) == 2048 and image.size == (photo.width, photo.height)
        assert min(image.convert("RGB").getpixel((10, 10))) > 240


def test_webp_is_accepted(user):
    photo = photos.save_upload(db.session, user, upload(image_bytes("WEBP"), "a.webp", "image/webp"), utcnow())
    assert (photo.width, photo.height) == (64, 48)


def test_local_storage_takes_only_its_own_keys(tmp_path):
    storage = photos.LocalStorage(tmp_path)
    for key in ("../secret.jpg", "/etc/passwd", "abc.jpg", "0123456789abcdef0123456789abcdef.png"):
        with pytest.raises(ValueError):
            storage.save(key, b"x")
    key = "0123456789abcdef0123456789abcdef.jpg"
    storage.save(key, b"data")
    assert storage.open(key) == b"data"
    storage.delete(key)
    storage.delete(key)  # twice is fine
    assert list(tmp_path.iterdir()) == []


# --- the smaller sizes ----------------------------------------------------------------------------

def noise_jpeg(width: int, height: int) -> bytes:
    """The hardest picture to compress: every pixel random."""
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(out, "JPEG", quality=95)
    return out.getvalue()


@pytest.mark.parametrize("size", [(3000, 2000), (600, 2400), (200, 150)])
def test_a_thumbnail_and_a_medium_size_are_made_at_upload(user, size):
    photo = photos.save_upload(db.session, user, upload(noise_jpeg(*size)), utcnow())
    storage = photos.get_storage()
    with Image.open(io.BytesIO(thumb := storage.open(photos.sized_key(photo.storage_key, "thumb")))) as image:
        assert max(image.size) <= 320 and image.size == (photo.thumb_width, photo.thumb_height)
        assert len(thumb) <= 30_000, len(thumb)  # even for pure noise
        assert image.format == "JPEG"
    with Image.open(io.BytesIO(storage.open(photos.sized_key(photo.storage_key, "medium")))) as image:
        assert max(image.size) == min(1280, max(photo.width, photo.height))
        assert image.size[0] / image.size[1] == pytest.approx(photo.width / photo.height, rel=0.01)


def test_a_storage_that_fails_midway_keeps_no_file_and_no_row(app, user, upload_dir, monkeypatch):
    real_save, calls = photos.LocalStorage.save, []

    def save(self, key, data):
        calls.append(key)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_save(self, key, data)
    monkeypatch.setattr(photos.LocalStorage, "save", save)
    message = refused(user, upload(image_bytes()))
    assert message == ("Your photos could not be saved just now, and nothing was kept. "
                       "Please try again in a few minutes.")
    assert len(calls) == 2
    assert_nothing_stored(upload_dir)


def test_photos_stored_before_sizes_existed_get_them_from_the_command(app, user, upload_dir):
    old = [photos.save_upload(db.session, user, upload(image_bytes(size=(900, 600))), utcnow()) for _ in range(3)]
    lost = photos.save_upload(db.session, user, upload(image_bytes()), utcnow())
    storage = photos.get_storage()
    for photo in old + [lost]:  # as they were before this release: the full size only
        photo.thumb_width = photo.thumb_height = None
        for size in photos.SIZES:
            storage.delete(photos.sized_key(photo.storage_key, size))
    storage.delete(lost.storage_key)  # and one whose file is gone altogether
    db.session.commit()

    result = app.test_cli_runner().invoke(args=["photos", "sizes", "--batch", "2"])
    assert result.exit_code == 0, result.output
    assert "3 photo(s)" in result.output
    db.session.expire_all()
    for photo in old:
        assert (photo.thumb_width, photo.thumb_height) == (320, 213)
        with Image.open(io.BytesIO(storage.open(photos.sized_key(photo.storage_key, "medium")))) as image:
            assert image.size == (900, 600)
    assert lost.thumb_width is None
    result = app.test_cli_runner().invoke(args=["photos", "sizes"])  # again: nothing left to do
    assert "0 photo(s)" in result.output
