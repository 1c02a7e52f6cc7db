"""FastAGI service for dialplan-side decisions: the caller's name, the branch, open or closed."""

from ari_app.dialplan.fastagi import FastAgiMetrics, FastAgiServer
from ari_app.dialplan.lookup import NameLookup, StoreNameLookup

__all__ = ["FastAgiMetrics", "FastAgiServer", "NameLookup", "StoreNameLookup"]
