from config import TestConfig, _database_url


def test_secret_key_is_generated_once_and_kept(tmp_path):
    first, second = TestConfig(tmp_path), TestConfig(tmp_path)
    assert first.SECRET_KEY == second.SECRET_KEY and len(first.SECRET_KEY) == 64
    assert (tmp_path / "secret_key").read_text() == first.SECRET_KEY
    assert first.KEY_SECRET != first.SECRET_KEY


def test_database_url_uses_psycopg3():
    assert _database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert _database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
