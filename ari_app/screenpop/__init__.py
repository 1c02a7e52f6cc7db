"""The screen-pop: the admins' console hub, pushing the calls in progress and the caller's card
to each browser allowed to see them (``board``: the pure state; ``hub``: the fact subscriber;
``console``: one browser's queue and writer; ``routes``: the websocket)."""
