"""The event log's schema and its reader: `EventKind`, one payload model per kind, the schema
version, and `EventReader`, the only code that queries `events` (the writer is
recagent/simulation/events.py)."""

from .kinds import ACTS, SIMULATION_KINDS, EventKind
from .payloads import PAYLOADS, Payload, payload_keys
from .reader import EVENT_COLUMNS, EventReader, UnreadableLog, decode_payload
from .schema import SCHEMA_VERSION, read_version, stamp

__all__ = ["ACTS", "EVENT_COLUMNS", "PAYLOADS", "SCHEMA_VERSION", "SIMULATION_KINDS", "EventKind", "EventReader",
           "Payload", "UnreadableLog", "decode_payload", "payload_keys", "read_version", "stamp"]
