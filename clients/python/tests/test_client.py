"""CovergateClient against a live gateway: the data team's path (Python, gRPC)."""

from __future__ import annotations

import socket
import unittest
import uuid

import grpc
from covergate.insurance.v1 import common_pb2, customer_pb2, event_pb2, policy_pb2, quote_pb2

from covergate_client import CovergateClient, CovergateError

from .gateway import Gateway, hex_digits

NFT = quote_pb2.NftCover(
    chain=common_pb2.CHAIN_ETHEREUM,
    nft_contract_address="0x8a90cab2b38dba80c64b7734e58ee1db38b8992e",
    token=common_pb2.TOKEN_ETH,
)
TOTAL = common_pb2.Money(currency_code="ETH", amount="1.5")


class LiveGatewayTest(unittest.TestCase):
    gateway: Gateway
    client: CovergateClient

    @classmethod
    def setUpClass(cls) -> None:
        cls.gateway = Gateway()
        cls.client = CovergateClient(cls.gateway.grpc_target, cls.gateway.token, insecure=True)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.client.close()
        cls.gateway.stop()

    def test_quote_buy_get_list_and_watch(self) -> None:
        quote = self.client.create_quote(quote_pb2.CreateQuoteRequest(nft=NFT, total_value=TOTAL))
        self.assertTrue(quote.quote_id)
        self.assertEqual(quote.total_value.amount, "1.5")
        self.assertRegex(quote.premium.amount, r"^[0-9]+(\.[0-9]+)?$")

        purchase = policy_pb2.CreatePolicyRequest(
            quote_id=quote.quote_id,
            nft=policy_pb2.NftPurchase(
                tx_id=hex_digits(64),
                current_block="123",
                source_address=hex_digits(40),
                target_address=hex_digits(40),
                nft_token_id="42",
            ),
            total_value=TOTAL,
            holder=customer_pb2.CustomerProfile(first_name="Ada", last_name="Lovelace", email="ada@example.com"),
        )
        key = str(uuid.uuid4())
        policy = self.client.create_policy(purchase, idempotency_key=key)
        self.assertTrue(policy.policy_id)
        self.assertEqual(policy.quote_id, quote.quote_id)
        # A retry with the same key returns the same policy instead of buying a second one.
        retry = self.client.create_policy(purchase, idempotency_key=key)
        self.assertEqual(retry.policy_id, policy.policy_id)

        got = self.client.get_policy(policy.policy_id)
        self.assertEqual(got.policy_id, policy.policy_id)
        self.assertEqual(got.partner, common_pb2.PARTNER_AVATA)
        self.assertTrue(got.etag)

        subject = f"policies/{policy.policy_id}"
        listed = self.client.list_events(event_pb2.ListEventsRequest(subject=subject)).events
        self.assertGreater(len(listed), 0, "the purchase is in the event log")
        for event in listed:
            self.assertEqual(event.subject, subject)
        self.assertIn("policy.created", [e.type for e in listed])

        # The stream replays the stored events first, in the same order and with the same cursors
        # as the list; read that many and end the stream.
        watched: list[event_pb2.Event] = []
        with self.client.watch_events(event_pb2.WatchEventsRequest(after_cursor=0, subject=subject)) as stream:
            for event in stream:
                watched.append(event)
                if len(watched) == len(listed):
                    break
        self.assertEqual(
            [(e.cursor, e.event_id, e.subject) for e in watched],
            [(e.cursor, e.event_id, e.subject) for e in listed],
        )

    def test_validation_errors_carry_field_violations(self) -> None:
        bad_nft = quote_pb2.NftCover()
        bad_nft.CopyFrom(NFT)
        bad_nft.nft_contract_address = "0x123"
        cases = [
            (
                "pattern in a nested message",
                lambda: self.client.create_quote(quote_pb2.CreateQuoteRequest(nft=bad_nft, total_value=TOTAL)),
                [("nft.nft_contract_address", "STRING_PATTERN")],
            ),
            ("malformed id", lambda: self.client.get_policy("not-a-uuid"), [("policy_id", "STRING_UUID")]),
        ]
        for name, call, want in cases:
            with self.subTest(name):
                with self.assertRaises(CovergateError) as ctx:
                    call()
                err = ctx.exception
                self.assertEqual(err.code, grpc.StatusCode.INVALID_ARGUMENT)
                self.assertEqual(err.reason, "VALIDATION_FAILED")
                self.assertEqual([(v.field, v.reason) for v in err.violations], want)
                self.assertTrue(all(v.description for v in err.violations))

    def test_wrong_token_is_unauthenticated(self) -> None:
        with CovergateClient(self.gateway.grpc_target, "not-a-known-key", insecure=True) as stranger:
            with self.assertRaises(CovergateError) as ctx:
                stranger.list_events(event_pb2.ListEventsRequest())
        self.assertEqual(ctx.exception.code, grpc.StatusCode.UNAUTHENTICATED)
        self.assertEqual(ctx.exception.reason, "UNAUTHENTICATED")

    def test_unreachable_gateway_is_unavailable(self) -> None:
        # A port that was free a moment ago: nothing listens there.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with CovergateClient(f"127.0.0.1:{port}", "some-api-key", insecure=True) as client:
            with self.assertRaises(CovergateError) as ctx:
                client.get_policy(str(uuid.uuid4()), timeout=30)
        self.assertEqual(ctx.exception.code, grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(ctx.exception.reason, "")

    def test_bad_arguments_fail_before_any_call(self) -> None:
        cases = [
            ("empty token", lambda: CovergateClient("127.0.0.1:1", "", insecure=True)),
            ("token with newline", lambda: CovergateClient("127.0.0.1:1", "a\nb", insecure=True)),
            ("empty target", lambda: CovergateClient("", "key", insecure=True)),
            (
                "idempotency key with a space",
                lambda: self.client.create_quote(quote_pb2.CreateQuoteRequest(), idempotency_key="a b"),
            ),
            ("empty idempotency key", lambda: self.client.create_quote(quote_pb2.CreateQuoteRequest(), idempotency_key="")),
        ]
        for name, make in cases:
            with self.subTest(name):
                with self.assertRaises(ValueError):
                    make()


if __name__ == "__main__":
    unittest.main()
