"""Persistence: calls, legs, recordings and callback tasks in SQLite (embedded) or PostgreSQL."""

from ari_app.store.db import Database, StoreUnavailable, until_available
from ari_app.store.records import CallbackTaskRecord, CallRecord, LegRecord, RecordingRecord
from ari_app.store.repository import CALLBACK_STATUSES, CallStore

__all__ = [
    "CALLBACK_STATUSES",
    "CallRecord",
    "CallStore",
    "CallbackTaskRecord",
    "Database",
    "LegRecord",
    "RecordingRecord",
    "StoreUnavailable",
    "until_available",
]
