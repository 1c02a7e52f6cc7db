"""Endpoints, and the apps subscribed to them with ``/applications/{app}/subscription``.

As res/stasis/app.c, res/res_stasis.c and main/endpoints.c run them:

- ``endpoint:PJSIP/admin101`` subscribes to one endpoint, ``endpoint:PJSIP`` to the technology's
  endpoint (every PJSIP endpoint's messages are forwarded to it), ``endpoint:`` to all endpoints
  (``__AST_ENDPOINT_ALL_TOPIC``). ``endpoint_ids`` lists the subscriptions by that id, sorted
  (the app's forwards are an rbtree). Each subscription counts how often it was made; an
  unsubscribe takes one away. While the app holds ``endpoint:`` a narrower one is not added.
- Every new endpoint snapshot reaches a resource or technology subscriber as an
  EndpointStateChange: a registration change (online/offline), and also a channel created on
  the endpoint (``ast_endpoint_add_channel``: before ChannelCreated) or destroyed
  (``ast_endpoint_remove_channel``: after ChannelDestroyed), which change ``channel_ids``.
  A state change is followed by PeerStatusChange (``peer_status`` Reachable/Unreachable,
  pjsip_configuration.c). ``endpoint:`` gets only the PeerStatusChange.
- A channel's topic is forwarded to its endpoint's: a resource or technology subscriber gets the
  channel events of the endpoint's channels (ChannelCreated included; StasisStart/StasisEnd and
  bridge events are not on the channel's topic), once per subscription that covers it, and an
  app that also controls the channel gets them once more (stasis.c does not merge the paths).
- The subscriptions outlive the app's websocket: stasis_app_unregister drops only ``endpoint:``.
  The app stays registered while it holds one, and its events meanwhile are lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from msgspec import Struct

from ari_app.ari import models as m
from ari_app.pbxsim.state import Phone, SimChannel, SimError
from ari_app.pbxsim.world import World

TECH = "PJSIP"
ENDPOINT_ALL = "__AST_ENDPOINT_ALL_TOPIC"
SCHEME = "endpoint:"
OTHER_SCHEMES = ("channel:", "bridge:", "deviceState:")
MAX_SOURCES = 128  # the request glue's MAX_VALS: "Too many values for event_source"

# Events published on a channel's own topic, which its endpoint's topic receives too.
CHANNEL_TOPIC: frozenset[type[m.Event]] = frozenset(
    {
        m.ChannelCreated, m.ChannelDestroyed, m.ChannelStateChange, m.ChannelDialplan,
        m.ChannelVarset, m.ChannelConnectedLine, m.ChannelCallerId, m.ChannelHangupRequest,
        m.ChannelDtmfReceived, m.ChannelHold, m.ChannelUnhold, m.ChannelTransfer, m.Dial,
        m.PlaybackStarted, m.PlaybackContinuing, m.PlaybackFinished,
    }
)  # fmt: skip


class Peer(Struct, omit_defaults=True):
    peer_status: str


class PeerStatusChange(m.Event, tag=True):
    endpoint: m.Endpoint
    peer: Peer


def split_sources(raw: str) -> list[str]:
    """One ``eventSource`` value split as ast_app_separate_args splits it: commas outside quotes,
    parentheses and brackets; quotes and backslashes removed; "" is one empty source."""
    out: list[str] = []
    cur: list[str] = []
    paren = bracket = 0
    quote = False
    chars = iter(raw)
    for ch in chars:
        if ch == "(":
            paren += 1
        elif ch == ")":
            paren = max(0, paren - 1)
        elif ch == "[":
            bracket += 1
        elif ch == "]":
            bracket = max(0, bracket - 1)
        elif ch == '"':
            quote = not quote
            continue
        elif ch == "\\":
            ch = next(chars, "")
        elif ch == "," and not (paren or quote or bracket):
            out.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    out.append("".join(cur))
    return out


class Endpoints(World):
    def __init__(self, *, seed: int, time_scale: float = 1.0) -> None:
        super().__init__(seed=seed, time_scale=time_scale)
        # app -> subscription id (PJSIP/admin101, PJSIP, ENDPOINT_ALL) -> times subscribed
        self.endpoint_subs: dict[str, dict[str, int]] = {}

    # ------------------------------------------------------------------ apps
    def app_registered(self, app: str) -> bool:
        """In Asterisk's registry: what GET /applications and the subscription routes see."""
        return self.app_exists(app) or bool(self.endpoint_subs.get(app))

    def app_names(self) -> list[str]:
        names = set(super().app_names()) | {a for a, subs in self.endpoint_subs.items() if subs}
        return sorted(names)

    def app_endpoint_ids(self, app: str) -> list[str]:
        return sorted(self.endpoint_subs.get(app, {}))

    def app_left(self, app: str) -> None:
        """stasis_app_unregister: only the all-endpoints subscription is dropped."""
        self._unsubscribe_one(app, ENDPOINT_ALL)

    def wipe(self) -> None:
        super().wipe()
        self.endpoint_subs.clear()  # a restarted Asterisk has no apps

    # ------------------------------------------------------------------ endpoints
    def endpoint_snapshot(self, resource: str, state: str | None = None) -> m.Endpoint:
        phone = self.phones[resource]
        ids = [c.id for c in self.channels.values() if c.endpoint == resource]
        return m.Endpoint(
            technology=TECH, resource=resource, channel_ids=ids,
            state=state or ("online" if phone.registered else "offline"),
        )  # fmt: skip

    def endpoint_exists(self, endpoint_id: str) -> bool:
        """ast_endpoint_find_by_id: ``tech/resource``, or a technology with an endpoint."""
        if endpoint_id == TECH:
            return bool(self.phones)
        tech, _, resource = endpoint_id.partition("/")
        return tech == TECH and resource in self.phones

    # ------------------------------------------------------------------ subscriptions
    def subscribe(self, app: str, sources: Sequence[str]) -> None:
        """stasis_app_subscribe: one source after another; a failure keeps the earlier ones."""
        self._check(app, sources)
        for uri in sources:
            endpoint_id = self._endpoint_id(uri)
            if endpoint_id and not self.endpoint_exists(endpoint_id):
                raise SimError(422, "Event source does not exist")
            subs = self.endpoint_subs.setdefault(app, {})
            if ENDPOINT_ALL in subs:
                continue  # "If subscribed to all, don't subscribe again"
            key = endpoint_id or ENDPOINT_ALL
            subs[key] = subs.get(key, 0) + 1

    def unsubscribe(self, app: str, sources: Sequence[str]) -> None:
        self._check(app, sources)
        for uri in sources:
            key = self._endpoint_id(uri) or ENDPOINT_ALL
            if not self._unsubscribe_one(app, key):
                raise SimError(422, "Event source was not subscribed to")

    def _check(self, app: str, sources: Sequence[str]) -> None:
        if not sources:
            raise SimError(400, "Missing parameter eventSource")
        if not self.app_registered(app):
            raise SimError(404, "Application not found")

    def _endpoint_id(self, uri: str) -> str:
        if uri.startswith(SCHEME):
            return uri[len(SCHEME) :]
        if uri.startswith(OTHER_SCHEMES):
            raise SimError(501, f"The simulator does not model {uri.split(':', 1)[0]}: subscriptions")
        raise SimError(400, "Invalid event source URI scheme")

    def _unsubscribe_one(self, app: str, key: str) -> bool:
        subs = self.endpoint_subs.get(app, {})
        if key not in subs:
            return False
        subs[key] -= 1
        if subs[key] <= 0:
            del subs[key]
        if not subs:
            self.endpoint_subs.pop(app, None)
        return True

    def endpoint_listeners(self, resource: str, *, peer_status: bool = False) -> list[tuple[str, int]]:
        """(app, copies): one copy per subscription whose topic carries this endpoint's messages."""
        keys = [f"{TECH}/{resource}", TECH, *([ENDPOINT_ALL] if peer_status else [])]
        found = [(app, sum(1 for k in keys if k in subs)) for app, subs in self.endpoint_subs.items()]
        return [(app, n) for app, n in found if n]

    def to_listeners(self, listeners: list[tuple[str, int]], cls: type[m.Event], **fields: Any) -> None:
        for app, copies in listeners:
            for _ in range(copies):
                World.emit(self, app, cls, **fields)

    # ------------------------------------------------------------------ what changes an endpoint
    def phone_updated(self, phone: Phone, *, created: bool, was_registered: bool) -> None:
        """A phone added (its endpoint created: unknown, then offline) or (un)registered."""
        name = phone.name
        if created:
            listeners = self.endpoint_listeners(name)
            for state in ("unknown", "offline"):
                snapshot = self.endpoint_snapshot(name, state)
                self.to_listeners(listeners, m.EndpointStateChange, endpoint=snapshot)
            was_registered = False
        if phone.registered == was_registered:
            return  # ast_sip_persistent_endpoint_update_state publishes nothing then
        snapshot = self.endpoint_snapshot(name)
        peer = Peer("Reachable" if phone.registered else "Unreachable")
        state_listeners = self.endpoint_listeners(name)
        peer_listeners = self.endpoint_listeners(name, peer_status=True)
        # The snapshot reaches the app through the endpoint's caching topic, PeerStatusChange
        # straight from the endpoint's topic: which one comes first varies.
        peer_first = bool(peer_listeners) and self.rng.random() < 0.5
        if peer_first:
            self.to_listeners(peer_listeners, PeerStatusChange, endpoint=snapshot, peer=peer)
        self.to_listeners(state_listeners, m.EndpointStateChange, endpoint=snapshot)
        if not peer_first:
            self.to_listeners(peer_listeners, PeerStatusChange, endpoint=snapshot, peer=peer)

    def phone_removed(self, name: str) -> None:
        """ast_endpoint_shutdown: a cache clear ends the subscriptions to it, without an event."""
        for app in list(self.endpoint_subs):
            subs = self.endpoint_subs[app]
            subs.pop(f"{TECH}/{name}", None)
            if not subs:
                del self.endpoint_subs[app]

    def channel_added(self, ch: SimChannel, born: m.Channel) -> list[tuple[str, int]]:
        """A channel on the endpoint: EndpointStateChange, then ChannelCreated (``born``)."""
        listeners = self.endpoint_listeners(ch.endpoint)
        if listeners and ch.endpoint in self.phones:
            self.to_listeners(listeners, m.EndpointStateChange, endpoint=self.endpoint_snapshot(ch.endpoint))
            self.to_listeners(listeners, m.ChannelCreated, channel=born)
        return listeners

    def channel_removed(self, ch: SimChannel) -> None:
        """After ChannelDestroyed the channel leaves its endpoint: EndpointStateChange."""
        listeners = self.endpoint_listeners(ch.endpoint)
        if listeners and ch.endpoint in self.phones:
            self.to_listeners(listeners, m.EndpointStateChange, endpoint=self.endpoint_snapshot(ch.endpoint))

    # ------------------------------------------------------------------ events
    def emit(self, app: str, cls: type[m.Event], **fields: Any) -> None:
        super().emit(app, cls, **fields)
        if cls not in CHANNEL_TOPIC or not self.endpoint_subs:
            return
        ch = self._source_channel(fields)
        # Once per publication, not per app it went to; a Local channel has no PJSIP endpoint.
        if ch is not None and ch.app == app and ch.kind != "local":
            self.to_listeners(self.endpoint_listeners(ch.endpoint), cls, **fields)

    def _source_channel(self, fields: dict[str, Any]) -> SimChannel | None:
        snap = fields.get("channel") or fields.get("peer")  # Dial: the peer's topic (no caller)
        referred_by = fields.get("referred_by")
        if isinstance(referred_by, m.ReferredBy):  # ChannelTransfer: the transferer's topic
            snap = referred_by.source_channel
        if isinstance(snap, m.Channel):
            return self.channels.get(snap.id)
        playback = fields.get("playback")
        if isinstance(playback, m.Playback):
            kind, _, target = playback.target_uri.partition(":")
            return self.channels.get(target) if kind == "channel" else None
        return None
