from tests.fixtures_db import postgres_admin_url  # noqa: F401 - fixture
