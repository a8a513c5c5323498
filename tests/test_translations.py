"""Every UI string is translated into Chinese: a new string without its translation fails here.

After changing UI text: `make messages`, then translate the new entries in the .po file.
"""
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from tests.conftest import REPO

METHODS = [("app/**.py", "python"), ("app/**/templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}


def test_every_ui_string_has_a_chinese_translation():
    with open(REPO / "app/translations/zh/LC_MESSAGES/messages.po", "rb") as f:
        catalog = read_po(f)
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    used = {message for _, _, message, _, _ in extract_from_dir(str(REPO), METHODS, keywords=KEYWORDS)
            if isinstance(message, str)}
    assert sorted(used - translated) == []


def test_every_translation_keeps_its_placeholders():
    """A translation that loses or misspells a %(name)s fails when shown: babel's checks catch it here."""
    with open(REPO / "app/translations/zh/LC_MESSAGES/messages.po", "rb") as f:
        catalog = read_po(f)
    problems = [(message.id, [str(e) for e in errors]) for message, errors in catalog.check()]
    assert problems == []
