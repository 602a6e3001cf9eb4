"""Client apps of the intake API and their keys.

Each client app has a key and a channel: the cases it posts enter the governance system
under that channel (the i龙华 mini program's as ``mini_program``, the 12345 bridge's as
``hotline_12345``). Keys come from the environment (``CIVICLAKE_INTAKE_API_KEYS`` or a file,
civiclake.settings); none ships with the code. A key is checked against every client's in
constant time, so the time an answer takes says nothing about how close a guess came.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from civiclake.catalogue import CHANNELS

# Shorter keys are refused: a guessable key lets anyone post as the client.
MIN_KEY_LENGTH = 16


class ClientKeysError(ValueError):
    """The configured client keys are malformed (the message names the entry, never the key)."""


@dataclass(frozen=True)
class Client:
    name: str
    channel: str  # a code of civiclake.catalogue.CHANNELS
    key: str

    def __repr__(self) -> str:  # the key never reaches a log line
        return f"Client(name={self.name!r}, channel={self.channel!r})"


def parse_clients(text: str) -> tuple[Client, ...]:
    """``client:channel:key`` entries, separated by commas or new lines (``#`` starts a comment)."""
    clients: list[Client] = []
    entries = [e.strip() for line in text.splitlines() for e in line.split("#", 1)[0].split(",")]
    for number, entry in enumerate((e for e in entries if e), start=1):
        parts = entry.split(":", 2)
        if len(parts) != 3 or not all(p.strip() for p in parts):
            raise ClientKeysError(f"intake client entry {number} is not client:channel:key")
        name, channel, key = (p.strip() for p in parts)
        if channel not in CHANNELS:
            raise ClientKeysError(
                f"intake client {name!r}: unknown channel {channel!r}; expected one of {CHANNELS}"
            )
        if len(key) < MIN_KEY_LENGTH:
            raise ClientKeysError(
                f"intake client {name!r}: its key is shorter than {MIN_KEY_LENGTH} characters"
            )
        if any(c.name == name for c in clients):
            raise ClientKeysError(f"intake client {name!r} is configured twice")
        clients.append(Client(name, channel, key))
    if not clients:
        raise ClientKeysError("no intake clients are configured (client:channel:key,…)")
    if len({c.key for c in clients}) != len(clients):
        raise ClientKeysError("two intake clients share a key; give each client app its own")
    return tuple(clients)


def client_of(key: str, clients: tuple[Client, ...]) -> Client | None:
    """The client whose key ``key`` is, or None; every client's key is compared, each in constant time."""
    given = key.encode()
    found = None
    for client in clients:
        if hmac.compare_digest(given, client.key.encode()):
            found = client
    return found
