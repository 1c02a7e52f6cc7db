"""How the demo's own clients (the floor, the scheduler) reach the app's API: over HTTPS, trusting
the certificate the demo generated and no other, with the run's bearer token."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aiohttp

from ari_app.tls import client_context


@dataclass(frozen=True)
class ApiAccess:
    url: str  # https://127.0.0.1:<port>
    token: str
    ca_file: Path  # the demo's self-signed certificate: the one authority these clients trust

    def session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            self.url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=aiohttp.ClientTimeout(total=10),
            connector=aiohttp.TCPConnector(ssl=client_context(self.ca_file)),
        )
