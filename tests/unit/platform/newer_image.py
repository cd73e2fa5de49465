"""A newer Storeplane image's migrations, for rollback tests: this repository's migrations/ plus
migrations of our own making, in a directory the Alembic config of a "newer image" points at.

The rolled-back image is the real one (this checkout, run as `python -m app …`); only the image
that came before the rollback is played by a copy of migrations/ with more revisions.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory

from app.db.migrate import SchemaCheck, alembic_config, upgrade_to_head
from tests.unit.platform.platform_render import ROOT

TEMPLATE = '''"""{title}

Revision ID: {revision}
Revises: {down}
"""

import sqlalchemy as sa
from alembic import op

revision = {revision!r}
down_revision = {down!r}
branch_labels = None
depends_on = None
{declaration}


def upgrade() -> None:
    {body}


def downgrade() -> None:
    pass
'''


def this_image_head() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


@dataclass
class NewerImage:
    """Migrations of an image newer than this checkout; add revisions, then migrate a database."""

    directory: Path
    head: str

    @classmethod
    def create(cls, tmp_path: Path) -> NewerImage:
        directory = tmp_path / "newer-image-migrations"
        shutil.copytree(ROOT / "migrations", directory, ignore=shutil.ignore_patterns("__pycache__"))
        return cls(directory, this_image_head())

    def add(self, revision: str, *, oldest_compatible: str | None, body: str = "pass") -> None:
        """A migration after the current head; oldest_compatible=None declares nothing."""
        declaration = f"oldest_compatible_revision = {oldest_compatible!r}" if oldest_compatible else ""
        (self.directory / "versions" / f"{revision}_newer.py").write_text(
            TEMPLATE.format(
                title=f"newer image migration {revision}",
                revision=revision,
                down=self.head,
                declaration=declaration,
                body=body,
            )
        )
        self.head = revision

    def migrate(self, url: str) -> SchemaCheck:
        return upgrade_to_head(url, script_location=self.directory)
