"""Covergate client for Python: gRPC stubs generated from proto/ plus a thin wrapper that adds the
bearer token to every call and idempotency keys to writes.

    from covergate_client import CovergateClient
    from covergate.insurance.v1 import quote_pb2

Generated modules live in the ``covergate``, ``buf``, ``google.api`` and ``google.rpc``
packages (regenerate with ``make clients``; never edit them).
"""

from ._client import IDEMPOTENCY_KEY_METADATA, CovergateClient, EventStream
from ._errors import CovergateError, FieldViolation

__all__ = [
    "IDEMPOTENCY_KEY_METADATA",
    "CovergateClient",
    "CovergateError",
    "EventStream",
    "FieldViolation",
]
