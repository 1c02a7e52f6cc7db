"""Pure routing policy: who is offered a call, in which waves, and whether a branch is open.
No I/O, no clock reads."""

from ari_app.routing.hours import Interval, OpenStatus, Schedule, status
from ari_app.routing.plan import Target
from ari_app.routing.strategies import STRATEGIES, AdminState, Offer, Presence, Strategy, offer

__all__ = [
    "STRATEGIES",
    "AdminState",
    "Interval",
    "Offer",
    "OpenStatus",
    "Presence",
    "Schedule",
    "Strategy",
    "Target",
    "offer",
    "status",
]
