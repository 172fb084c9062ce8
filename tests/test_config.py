from config import TestConfig, _database_url


def test_secret_key_is_generated_once_and_kept(tmp_path):
    first, second = TestConfig(tmp_path), TestConfig(tmp_path)
    assert first.SECRET_KEY == second.SECRET_KEY and len(first.SECRET_KEY) == 64
    assert (tmp_path / "secret_key").read_text() == first.SECRET_KEY
    assert first.KEY_SECRET != first.SECRET_KEY


def test_database_url_uses_psycopg3():
    assert _database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert _database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"


def test_the_instance_folder_and_its_files_are_private(tmp_path):
    import stat

    from app import create_app
    from app.extensions import db

    folder = tmp_path / "instance"
    folder.mkdir(mode=0o755)
    (folder / "redis.db").write_bytes(b"")
    (folder / "redis.db").chmod(0o644)
    app = create_app(TestConfig(folder, SQLALCHEMY_DATABASE_URI=f"sqlite:///{folder / 'sealflow.sqlite'}"))
    with app.app_context():
        db.create_all()  # the SQLite file (and its WAL) are created now, under the narrowed umask
        db.session.execute(db.text("SELECT 1"))
        db.engine.dispose()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = [p for p in folder.iterdir() if p.is_file()]
    assert {p.name for p in files} >= {"secret_key", "key_secret", "redis.db", "sealflow.sqlite"}
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in files} == {p.name: 0o600 for p in files}
