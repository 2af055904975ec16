"""CovergateError: a failed call with its machine-readable reason and field violations.

Covergate puts a google.rpc.Status in the ``grpc-status-details-bin`` trailer of every error; its
details carry an ErrorInfo (``reason`` is an ErrorReason value without its
``ERROR_REASON_`` prefix, such as ``VALIDATION_FAILED``) and, for invalid requests, a BadRequest listing every field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import grpc
from google.rpc import error_details_pb2, status_pb2

_STATUS_DETAILS_KEY = "grpc-status-details-bin"


@dataclass(frozen=True)
class FieldViolation:
    """One invalid request field (``google.rpc.BadRequest.FieldViolation``)."""

    field: str
    """Path of the field in proto names, for example ``policy_id`` or ``total_value.amount``."""
    description: str
    """Human-readable explanation."""
    reason: str = ""
    """Machine-readable rule such as ``STRING_UUID`` (UPPER_SNAKE_CASE), when the server sends one."""


@dataclass(eq=False)
class CovergateError(Exception):
    """A failed Covergate call. Switch on ``reason``, never on ``message``."""

    code: grpc.StatusCode
    message: str
    reason: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)
    violations: Sequence[FieldViolation] = ()

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        reason = f" ({self.reason})" if self.reason else ""
        return f"{self.code.name}{reason}: {self.message}"

    @classmethod
    def from_rpc_error(cls, err: grpc.RpcError) -> "CovergateError":
        """Decodes the status details a failed call carried; tolerates their absence."""
        code = err.code() if isinstance(err, grpc.Call) else grpc.StatusCode.UNKNOWN
        message = err.details() if isinstance(err, grpc.Call) else str(err)
        reason = ""
        metadata: dict[str, str] = {}
        violations: list[FieldViolation] = []
        trailers = err.trailing_metadata() if isinstance(err, grpc.Call) else None
        for key, value in trailers or ():
            if key != _STATUS_DETAILS_KEY or not isinstance(value, bytes):
                continue
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                    info = error_details_pb2.ErrorInfo()
                    detail.Unpack(info)
                    reason = info.reason
                    metadata = dict(info.metadata)
                elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                    bad = error_details_pb2.BadRequest()
                    detail.Unpack(bad)
                    violations.extend(
                        FieldViolation(v.field, v.description, v.reason) for v in bad.field_violations
                    )
        return cls(
            code=code or grpc.StatusCode.UNKNOWN,
            message=message or "",
            reason=reason,
            metadata=metadata,
            violations=tuple(violations),
        )
