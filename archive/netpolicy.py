"""Which resolved addresses a crawl may connect to.

CONTRACTS.md: links that resolve to private, loopback or link-local addresses are refused
at DNS resolution (not by URL text, which misses DNS rebinding and redirects), unless the
collection allows them; the hosts of explicitly given seeds are allowed whatever they
resolve to, so a seed on 127.0.0.1 crawls its own site.
"""

from __future__ import annotations

import ipaddress


def refusal(host: str, address: str, *, seed_hosts: set[str], allow_private: bool) -> str | None:
    """Why connecting to ``address`` for ``host`` is refused, or None when it is allowed."""
    if allow_private or host.lower() in seed_hosts:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        return (f"{host} resolves to {address}, a private or local address; refused "
                "(set scope.allow_private_addresses = true to allow)")
    return None
