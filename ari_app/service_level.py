"""The caller's wait and the service level: defined once, for the wallboard, the reports and the
metrics alike.

- A caller's **wait** runs from the call's start (``CallStarted.at``, the row's ``started_at``)
  to the moment an admin was put through (``CallAnswered.at``, ``answered_at``), or to the end
  for a call nobody answered; never below zero. It is the ``clinic_call_wait_seconds``
  histogram's and the stored ``calls.wait_seconds``.
- A call is **answered** when an admin was put through (``answered_at`` set), whatever its
  recorded outcome later says; its wait is then its **speed of answer**.
- The **service level** over some calls is the share of the answered ones answered within the
  threshold (``[calls] service_level_seconds``, 20 s by default), the threshold itself included:
  answered within T over answered. Calls nobody answered do not enter it (they have their own
  counts: missed, abandoned...). No answered call: no figure (None), never 0 % or 100 %.

In SQL over stored, ended calls: ``answered_at IS NOT NULL AND wait_seconds <= T`` over
``answered_at IS NOT NULL``.
"""

from __future__ import annotations

from datetime import datetime

DEFAULT_SECONDS = 20


def wait_seconds(started_at: datetime, until: datetime) -> float:
    """The caller's wait from the call's start to ``until`` (its answer, or its end)."""
    return max(0.0, (until - started_at).total_seconds())


def within(wait: float, threshold: float) -> bool:
    """Answered within the threshold (a wait of exactly the threshold is within)."""
    return wait <= threshold


def service_level(answered: int, answered_within: int) -> float | None:
    """Answered within the threshold over answered; None when nothing was answered."""
    if answered <= 0:
        return None
    return min(answered_within, answered) / answered
