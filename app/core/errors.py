"""One error for every request the rules refuse: what to tell her, which fields, which status.

Services raise `DomainError` before changing anything; views show `message` (or put `fields` on the
form with `put_on_form`, or flash it with `commit_or_flash`), the API answers `status` with `fields`.
Messages stay lazy translation strings until shown, so they come out in the reader's language.
"""
from flask import abort, flash

from app.extensions import db


class DomainError(ValueError):
    """A refused request. `fields` maps form field names to messages; `code` tells refusals apart
    where a caller reacts differently (an expired link, a closed invite)."""

    def __init__(self, message=None, *, field: str | None = None, fields: dict | None = None,
                 status: int = 422, code: str | None = None):
        fields = dict(fields or {})
        if field is not None:
            fields[field] = message
        if message is None and fields:
            message = next(iter(fields.values()))
        super().__init__(message)
        self.message, self.fields, self.status, self.code = message, fields, status, code

    def __str__(self) -> str:
        return str(self.message) if self.message is not None else ""

    @property
    def field(self) -> str | None:
        """The first field at fault, if any."""
        return next(iter(self.fields), None)


def put_on_form(form, error: DomainError, aliases: dict | None = None) -> list:
    """Show each field's message under that field of a WTForms form (`aliases` renames a service's
    field to the form's, e.g. {"day": "date"}); returns the messages that belong to no field."""
    aliases = aliases or {}
    left = []
    for name, message in error.fields.items():
        field = getattr(form, aliases.get(name, name), None)
        if field is None:
            left.append(message)
        else:
            field.errors = [*field.errors, message]
    if not error.fields and error.message is not None:
        left.append(error.message)
    return left



def commit_or_flash(action, *args) -> tuple[bool, object]:
    """For a view's one-click action (a button, no form to show again): run `action(*args)` and commit
    what it did. A refusal rolls back and is flashed as a warning, except a 404, which is the answer.
    Returns (done, the action's result)."""
    try:
        result = action(*args)
    except DomainError as e:
        db.session.rollback()
        if e.status == 404:
            abort(404)
        flash(str(e.message), "warning")
        return False, None
    db.session.commit()
    return True, result
