"""Start the simulated PBX as its own process and drive its world through the control API.

Used by the demo, the integration tests and the benchmarks: the app talks to the simulator
only over ARI on real sockets, exactly as it talks to Asterisk.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import tempfile
from dataclasses import dataclass
from typing import Any

import aiohttp

_READY = re.compile(r"pbxsim ready ari=(\S+) control=(\S+)")


@dataclass
class SimProcess:
    proc: asyncio.subprocess.Process
    ari_url: str
    control_url: str

    @classmethod
    async def start(
        cls,
        *,
        username: str,
        password: str,
        seed: int = 1,
        extra: list[str] | None = None,
        ready_timeout: float = 20.0,
        env: dict[str, str] | None = None,
        launcher: list[str] | None = None,
    ) -> SimProcess:
        args = [
            *(launcher or []),
            sys.executable, "-m", "ari_app.pbxsim",
            "--host", "127.0.0.1", "--ari-port", "0", "--control-port", "0",
            "--seed", str(seed), f"--username={username}",
            *(extra or []),
        ]  # fmt: skip
        # Its stderr goes to a file that is gone at once (only our descriptor keeps it), so that
        # a simulator that dies while starting can say why without filling a pipe later.
        errors = tempfile.TemporaryFile()
        proc = await asyncio.create_subprocess_exec(
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=errors,
            # The password goes by environment: out of the process list, and a value that starts
            # with "-" is not taken for an option.
            env={**os.environ, **(env or {}), "PBXSIM_PASSWORD": password},
            start_new_session=True,  # Ctrl-C in a terminal reaches the demo, which stops us in order
        )
        assert proc.stdout is not None
        try:
            while True:
                line = await asyncio.wait_for(proc.stdout.readline(), ready_timeout)
                if not line:
                    code = await proc.wait()
                    errors.seek(0)
                    tail = errors.read()[-2000:].decode(errors="replace").strip()
                    raise RuntimeError(
                        f"the simulated PBX exited before it was ready (exit {code})"
                        + (f":\n{tail}" if tail else "")
                    )
                found = _READY.search(line.decode(errors="replace"))
                if found:
                    break
        except BaseException:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            raise
        finally:
            errors.close()
        asyncio.get_running_loop().create_task(_drain(proc.stdout))
        return cls(proc, found.group(1), found.group(2))

    async def stop(self, timeout: float = 5.0) -> None:
        if self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass


class SimControl:
    """A thin client of the simulator's control API (see ari_app/pbxsim/README.md)."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession | None = None) -> None:
        self.base = base_url.rstrip("/")
        self._session = session or aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        self._own = session is None

    async def close(self) -> None:
        if self._own:
            await self._session.close()

    async def _req(self, method: str, path: str, body: Any = None) -> Any:
        async with self._session.request(method, f"{self.base}{path}", json=body) as resp:
            text = await resp.text()
            if resp.status >= 400:
                raise RuntimeError(f"control {method} {path}: {resp.status} {text[:200]}")
            return await resp.json(content_type=None) if text else None

    async def set_phone(self, name: str, behaviour: str, **extra: Any) -> None:
        await self._req("PUT", f"/control/phones/{name}", {"behaviour": behaviour, **extra})

    async def set_phone_registration(self, name: str, registered: bool) -> None:
        await self._req("PUT", f"/control/phones/{name}", {"registered": registered})

    async def refer(self, name: str, to: str) -> dict[str, Any]:
        """The phone's user transfers its call to extension ``to`` (a SIP REFER)."""
        result: dict[str, Any] = await self._req("POST", f"/control/phones/{name}/refer", {"to": to})
        return result

    async def place_call(self, caller: str, did: str, **extra: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self._req(
            "POST", "/control/calls", {"caller": caller, "did": did, **extra}
        )
        return result

    async def caller_hangup(self, call_id: str) -> None:
        await self._req("POST", f"/control/calls/{call_id}/hangup")

    async def phone_hangup(self, name: str) -> None:
        await self._req("POST", f"/control/phones/{name}/hangup")

    async def events(self) -> list[dict[str, Any]]:
        data = await self._req("GET", "/control/events")
        return list(data["events"])

    async def phones(self) -> list[dict[str, Any]]:
        """Each phone: its name, behaviour, registration and the INVITEs that reached it."""
        result: dict[str, Any] = await self._req("GET", "/control/phones")
        return list(result["phones"])

    async def calls(self) -> list[dict[str, Any]]:
        data = await self._req("GET", "/control/calls")
        return list(data["calls"] if isinstance(data, dict) else data)

    async def state(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._req("GET", "/control/state")
        return result

    async def requests(self) -> list[dict[str, Any]]:
        data = await self._req("GET", "/control/requests")
        return list(data["requests"] if isinstance(data, dict) else data)

    async def clear_requests(self) -> None:
        await self._req("DELETE", "/control/requests")

    async def fault(self, **knobs: Any) -> None:
        await self._req("POST", "/control/faults", knobs)
