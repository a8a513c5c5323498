"""Managing one's own personal access tokens: listing and revoking (creating is models.create_token)."""
from datetime import datetime

import sqlalchemy as sa

from app.api.models import ApiToken


def list_tokens(session, user) -> list[ApiToken]:
    """The user's tokens, newest first, revoked ones included."""
    return list(session.scalars(sa.select(ApiToken).where(ApiToken.user_id == user.id)
                                .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def revoke_token(session, user, token_id: int, now: datetime) -> ApiToken | None:
    """Revoke one of the user's own tokens; None if she has no token with that id.

    Revoking twice keeps the first time. The API looks the token up on every request,
    so it stops working as soon as this is committed.
    """
    token = session.scalar(sa.select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id))
    if token is not None and token.revoked_at is None:
        token.revoked_at = now
    return token


def revoke_all(session, user, now: datetime) -> None:
    """End every token of hers (a new password, a closed account): none comes back later."""
    session.execute(sa.update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                    .values(revoked_at=now).execution_options(synchronize_session="fetch"))
