"""The dialplan's way when Stasis() fails: the rendered ``[fallback]`` context and its CDRs.

With a rendered Asterisk configuration (``--asterisk-config``), a call whose app is not active
runs ``[fallback]`` for its DID (``fallback_run``) instead of being declined, and its records go
to ``<cdr dir>/cdr-custom/`` as cdr_custom.conf maps them. Without one, or with no extension for
the DID there, the call is declined (603) as before.
"""

from __future__ import annotations

from pathlib import Path

from ari_app.pbxsim.cdr_custom import CdrWriter, Party, clid, load_mappings
from ari_app.pbxsim.dialing import DTMF_GAP, Pbx
from ari_app.pbxsim.dialplan import Dialplan, load_dialplan
from ari_app.pbxsim.fallback_run import FallbackRun
from ari_app.pbxsim.state import SimCall, SimError


def load_config(config_dir: Path, cdr_dir: Path | None) -> tuple[Dialplan, CdrWriter | None]:
    """The rendered folder's extensions.conf and, with a log directory, cdr_custom.conf's
    mappings. Raises DialplanError / MappingError / OSError, each naming the file."""
    dialplan = load_dialplan(config_dir / "extensions.conf")
    if cdr_dir is None:
        return dialplan, None
    return dialplan, CdrWriter(cdr_dir, load_mappings(config_dir / "cdr_custom.conf"))


class Fallback(Pbx):
    def __init__(
        self, *, seed: int, time_scale: float = 1.0, recordings_dir: Path,
        dialplan: Dialplan | None = None, cdr: CdrWriter | None = None,
    ) -> None:  # fmt: skip
        super().__init__(seed=seed, time_scale=time_scale, recordings_dir=recordings_dir)
        self.dialplan = dialplan
        self.cdr = cdr
        self.runs: dict[str, FallbackRun] = {}  # call id -> its trip through [fallback]

    def dialplan_fallback(self, call: SimCall, channel_id: str, channel_name: str, caller_name: str) -> bool:
        ext = self.dialplan.match(call.did) if self.dialplan is not None else None
        if ext is None:
            return False
        assert self.dialplan is not None
        party = Party(uniqueid=channel_id, src=call.caller, clid=clid(caller_name, call.caller),
                      dst=call.did, channel=channel_name)  # fmt: skip
        run = FallbackRun(
            self, call, ext, party, first_sequence=self.ids.last_cdr_sequence,
            globals_=self.dialplan.globals, writer=self.cdr, done=self._run_done,
        )  # fmt: skip
        call.channel_id, call.fallback = channel_id, True
        self.runs[call.call_id] = run
        run.start()
        return True

    def _run_done(self, run: FallbackRun) -> None:
        self.runs.pop(run.call.call_id, None)

    # ------------------------------------------------------------------ the people
    def caller_hangup(self, call_id: str) -> None:
        run = self.runs.get(call_id)
        if run is None:
            super().caller_hangup(call_id)
        else:
            run.caller_leaves()

    def abandon_call(self, call: SimCall, seconds: float) -> None:
        run = self.runs.get(call.call_id)
        if run is None:
            super().abandon_call(call, seconds)
        else:
            run.abandon_after(seconds)

    def send_dtmf(self, call_id: str, digits: str, gap: float = DTMF_GAP) -> None:
        if call_id in self.runs:
            raise SimError(409, "the dialplan's fallback reads no keys")
        super().send_dtmf(call_id, digits, gap)

    def phone_hangup(self, name: str) -> int:
        ended = super().phone_hangup(name)
        return ended + sum(run.phone_hangup(name) for run in list(self.runs.values()))

    def wipe(self) -> None:
        super().wipe()
        for run in list(self.runs.values()):
            run.vanish()
        self.runs.clear()
        self.occupied.clear()
