"""The simulated PBX: ARI as Asterisk 22 speaks it, derived from a model of the world.

The model is built in layers, each adding one kind of thing: ``world`` (objects, clock, event
stream), ``endpoints`` (endpoint snapshots and the apps subscribed to them), ``media``
(playbacks), ``bridging`` (bridges), ``recorder`` (bridge recordings), ``lifecycle`` (channels
from birth to ChannelDestroyed), ``transfers`` (a phone's REFER), ``dialing`` (phones and
callers: ``Pbx``) and ``fallback`` (the rendered dialplan's ``[fallback]`` when Stasis() fails,
with ``dialplan``, ``fallback_run`` and ``cdr_custom``: ``Fallback``, the whole PBX).
``ari_channels``/``ari_resources`` serve it as ARI, ``control_routes`` as the control API,
``websockets`` carries the events, and ``server.PbxSim`` runs it all.
"""

from ari_app.pbxsim.server import PbxSim

__all__ = ["PbxSim"]
