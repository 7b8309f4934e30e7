"""Who a request comes from: the peer's address, or the address a trusted reverse proxy names.

The header (ASSISTANT_CLIENT_IP_HEADER) is believed only when it is configured and only from
ASSISTANT_TRUSTED_PROXIES; its right-most address is the one the proxy itself saw. The per-client
rate limit (guard.py) and the staff console's login limit both count by this address.
"""

from __future__ import annotations

import ipaddress

from assistant.settings import Settings


class ClientAddress:
    def __init__(self, settings: Settings) -> None:
        self.header = settings.client_ip_header.lower().encode() if settings.client_ip_header else None
        self.proxies = [ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies]

    def __call__(self, scope) -> str:
        peer = (scope.get("client") or ("unknown", 0))[0]
        if self.header and self._trusted(peer):
            for name, value in scope.get("headers", []):
                if name == self.header:
                    last = value.decode("latin-1").split(",")[-1].strip()
                    if last:
                        return last[:64]
        return peer

    def _trusted(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self.proxies)
