"""The floor of bench/startup.py: the least a web app like SealFlow imports and builds when a worker starts.

Flask with Flask-SQLAlchemy (a typed model, the engine made), Flask-Babel (a locale selector), Flask-Login and
Flask-WTF's CSRF protection (a login form), one blueprint with a page rendered from a template; the database URL
and the driver are SealFlow's (DATABASE_URL, else SQLite). `import startup_floor` is to it what `import wsgi` is to
SealFlow.
"""

from __future__ import annotations

import os
import tempfile

from flask import Blueprint, Flask, render_template_string, request
from flask_babel import Babel, gettext
from flask_login import LoginManager, UserMixin, login_required
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect, FlaskForm
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
pages = Blueprint("pages", __name__)


class User(db.Model, UserMixin):  # type: ignore[name-defined,misc]
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))


@pages.route("/")
@login_required
def index() -> str:
    return render_template_string("<h1>{{ title }}</h1>", title=gettext("Inbox"))


@pages.route("/login", methods=["GET", "POST"])
def login() -> str:
    form = LoginForm()
    return render_template_string("<form method=post>{{ form.csrf_token }}{{ form.username }}</form>", form=form)


def create_app() -> Flask:
    app = Flask(__name__)
    url = os.environ.get("DATABASE_URL", "").replace("postgresql://", "postgresql+psycopg://", 1)
    app.config.update(SECRET_KEY="floor", SQLALCHEMY_DATABASE_URI=url or f"sqlite:///{tempfile.gettempdir()}/floor.db")
    db.init_app(app)
    with app.app_context():
        db.engine  # noqa: B018  (made at start, as SealFlow does)
    login_manager.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=lambda: request.accept_languages.best_match(["en", "zh"]))
    app.register_blueprint(pages)
    return app


app = create_app()
