"""Pure routing policy: who is offered a call. No I/O, no clock reads."""

from ari_app.routing.plan import RoutePlan, Target, ring_all

__all__ = ["RoutePlan", "Target", "ring_all"]
