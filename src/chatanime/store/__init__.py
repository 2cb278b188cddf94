"""The project's store: one SQLAlchemy database (SQLite WAL by default, PostgreSQL by URL).

Rows are the source of truth for everything that costs money or human time:
model calls, generated dialogues, judgments and ratings. See ``engine.open_store``.
"""

from chatanime.store.engine import Store, default_store_url, open_store

__all__ = ["Store", "default_store_url", "open_store"]
