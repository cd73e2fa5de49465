from tests.fixtures_db import database_url, postgres_admin_url  # noqa: F401 - fixtures
