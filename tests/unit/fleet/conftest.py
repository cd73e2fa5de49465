from tests.fixtures_db import database_url, db, postgres_admin_url  # noqa: F401 - fixtures
