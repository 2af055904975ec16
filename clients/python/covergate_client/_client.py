"""CovergateClient: the generated gRPC stubs behind one channel, with auth and idempotency keys."""

from __future__ import annotations

import re
from typing import Iterator, Optional, Sequence, Tuple

import grpc
from covergate.insurance.v1 import (
    claim_pb2_grpc,
    customer_pb2_grpc,
    event_pb2,
    event_pb2_grpc,
    policy_pb2,
    policy_pb2_grpc,
    quote_pb2,
    quote_pb2_grpc,
)

from ._auth import BearerAuth
from ._errors import CovergateError

IDEMPOTENCY_KEY_METADATA = "idempotency-key"

# Both travel as HTTP/2 header values: visible ASCII, no spaces.
_HEADER_VALUE = re.compile(r"^[\x21-\x7e]+$")

Metadata = Sequence[Tuple[str, str]]


def _check_header_value(name: str, value: str) -> None:
    if not isinstance(value, str) or not _HEADER_VALUE.match(value):
        raise ValueError(f"covergate: {name} must be a non-empty printable ASCII string without spaces")


class EventStream:
    """Events of a WatchEvents call, in cursor order. Iterate it; ``cancel()`` (or leaving the
    ``with`` block) ends the stream. Errors are raised as CovergateError."""

    def __init__(self, call: grpc.Call) -> None:
        self._call = call
        self._cancelled = False

    def __iter__(self) -> Iterator[event_pb2.Event]:
        try:
            for response in self._call:  # type: ignore[attr-defined]
                yield response.event
        except grpc.RpcError as err:
            if self._cancelled and err.code() == grpc.StatusCode.CANCELLED:  # type: ignore[attr-defined]
                return
            raise CovergateError.from_rpc_error(err) from err

    def cancel(self) -> None:
        self._cancelled = True
        self._call.cancel()

    def __enter__(self) -> "EventStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()


class CovergateClient:
    """A Covergate gRPC client.

    ``target`` is ``host:port``. The channel uses TLS unless ``insecure=True`` (local development
    only: the API key would travel in clear). Every call carries ``authorization: Bearer <token>``.

    The typed methods below cover quoting, buying and following policies; they raise
    CovergateError and take ``idempotency_key=`` on writes (send the same key when retrying the
    same write). Every other RPC is on the raw stubs ``quotes``, ``policies``, ``events``,
    ``claims`` and ``customers`` (authenticated too; they raise grpc.RpcError, which
    ``CovergateError.from_rpc_error`` decodes).
    """

    def __init__(
        self,
        target: str,
        token: str,
        *,
        insecure: bool = False,
        root_certificates: Optional[bytes] = None,
        options: Optional[Sequence[Tuple[str, object]]] = None,
    ) -> None:
        if not target:
            raise ValueError("covergate: target must be host:port")
        _check_header_value("token", token)
        if insecure:
            raw = grpc.insecure_channel(target, options=options)
        else:
            creds = grpc.ssl_channel_credentials(root_certificates=root_certificates)
            raw = grpc.secure_channel(target, creds, options=options)
        self._raw = raw
        channel = grpc.intercept_channel(raw, BearerAuth(token))
        self.quotes = quote_pb2_grpc.QuoteServiceStub(channel)
        self.policies = policy_pb2_grpc.PolicyServiceStub(channel)
        self.events = event_pb2_grpc.EventServiceStub(channel)
        self.claims = claim_pb2_grpc.ClaimServiceStub(channel)
        self.customers = customer_pb2_grpc.CustomerServiceStub(channel)

    def close(self) -> None:
        """Closes the channel; calls in flight are cancelled."""
        self._raw.close()

    def __enter__(self) -> "CovergateClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _metadata(idempotency_key: Optional[str]) -> Metadata:
        if idempotency_key is None:
            return ()
        _check_header_value("idempotency_key", idempotency_key)
        return ((IDEMPOTENCY_KEY_METADATA, idempotency_key),)

    @staticmethod
    def _unary(method, request, *, timeout: Optional[float], metadata: Metadata = ()):  # type: ignore[no-untyped-def]
        try:
            return method(request, timeout=timeout, metadata=metadata)
        except grpc.RpcError as err:
            raise CovergateError.from_rpc_error(err) from err

    # Quotes

    def create_quote(
        self,
        request: quote_pb2.CreateQuoteRequest,
        *,
        idempotency_key: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> quote_pb2.Quote:
        """Prices a cover with the carrier and returns the stored quote."""
        res = self._unary(self.quotes.CreateQuote, request, timeout=timeout, metadata=self._metadata(idempotency_key))
        return res.quote

    def get_quote(self, quote_id: str, *, timeout: Optional[float] = None) -> quote_pb2.Quote:
        return self._unary(self.quotes.GetQuote, quote_pb2.GetQuoteRequest(quote_id=quote_id), timeout=timeout).quote

    # Policies

    def create_policy(
        self,
        request: policy_pb2.CreatePolicyRequest,
        *,
        idempotency_key: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> policy_pb2.Policy:
        """Buys the cover of a quote. Pass an idempotency key so that a retry cannot buy twice."""
        res = self._unary(self.policies.CreatePolicy, request, timeout=timeout, metadata=self._metadata(idempotency_key))
        return res.policy

    def get_policy(self, policy_id: str, *, timeout: Optional[float] = None) -> policy_pb2.Policy:
        req = policy_pb2.GetPolicyRequest(policy_id=policy_id)
        return self._unary(self.policies.GetPolicy, req, timeout=timeout).policy

    def list_policies(
        self, request: policy_pb2.ListPoliciesRequest, *, timeout: Optional[float] = None
    ) -> policy_pb2.ListPoliciesResponse:
        return self._unary(self.policies.ListPolicies, request, timeout=timeout)

    def cancel_policy(
        self,
        request: policy_pb2.CancelPolicyRequest,
        *,
        idempotency_key: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> policy_pb2.Policy:
        res = self._unary(self.policies.CancelPolicy, request, timeout=timeout, metadata=self._metadata(idempotency_key))
        return res.policy

    def refresh_policy(
        self, policy_id: str, *, timeout: Optional[float] = None
    ) -> policy_pb2.RefreshPolicyResponse:
        req = policy_pb2.RefreshPolicyRequest(policy_id=policy_id)
        return self._unary(self.policies.RefreshPolicy, req, timeout=timeout)

    # Events

    def list_events(
        self, request: event_pb2.ListEventsRequest, *, timeout: Optional[float] = None
    ) -> event_pb2.ListEventsResponse:
        return self._unary(self.events.ListEvents, request, timeout=timeout)

    def watch_events(self, request: event_pb2.WatchEventsRequest) -> EventStream:
        """Streams stored events after ``request.after_cursor``, then live ones. Use as a context
        manager, or call ``cancel()``, to end it."""
        return EventStream(self.events.WatchEvents(request))

    def publish_event(
        self,
        request: event_pb2.PublishEventRequest,
        *,
        idempotency_key: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> event_pb2.Publication:
        res = self._unary(self.events.PublishEvent, request, timeout=timeout, metadata=self._metadata(idempotency_key))
        return res.publication
