"""Persistence: calls, legs and recordings in SQLite (embedded) or PostgreSQL."""

from ari_app.store.db import Database, StoreUnavailable, until_available
from ari_app.store.records import CallRecord, LegRecord, RecordingRecord
from ari_app.store.repository import CallStore

__all__ = [
    "CallRecord",
    "CallStore",
    "Database",
    "LegRecord",
    "RecordingRecord",
    "StoreUnavailable",
    "until_available",
]
