"""Accounts: users and roles, login, registration by cohort invite, passwords."""
import sqlalchemy as sa


def init_app(app) -> None:
    from app.accounts import commands
    from app.accounts.models import User
    from app.accounts.views import bp
    from app.extensions import db, login_manager

    @login_manager.user_loader
    def load_user(session_token: str):
        return db.session.scalar(
            sa.select(User).where(User.session_token == session_token, User.is_active.is_(True)))

    login_manager.login_view = "accounts.login"
    login_manager.login_message = None
    app.register_blueprint(bp)
    app.cli.add_command(commands.users)
