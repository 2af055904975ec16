"""Quote NFT cover, buy it, read the policy back, hit a validation error, then list and watch the
policy's events. Run against `make run`, or set COVERGATE_GRPC_TARGET and COVERGATE_TOKEN.
The client tests run this file against a live gateway."""

import os
import secrets
import uuid

from covergate.insurance.v1 import common_pb2, customer_pb2, event_pb2, policy_pb2, quote_pb2
from covergate_client import CovergateClient, CovergateError

target = os.environ.get("COVERGATE_GRPC_TARGET", "127.0.0.1:9090")
token = os.environ.get("COVERGATE_TOKEN", "covergate-dev-key")
total = common_pb2.Money(currency_code="ETH", amount="1.5")

# insecure=True: plaintext to a local gateway only; in production leave it off (TLS).
with CovergateClient(target, token, insecure=True) as client:
    quote = client.create_quote(
        quote_pb2.CreateQuoteRequest(
            nft=quote_pb2.NftCover(
                chain=common_pb2.CHAIN_ETHEREUM,
                nft_contract_address="0x8a90cab2b38dba80c64b7734e58ee1db38b8992e",
                token=common_pb2.TOKEN_ETH,
            ),
            total_value=total,
        )
    )
    print(f"quote {quote.quote_id}: premium {quote.premium.amount} {quote.premium.currency_code}")

    # One idempotency key per purchase: retrying with the same key can never buy twice.
    policy = client.create_policy(
        policy_pb2.CreatePolicyRequest(
            quote_id=quote.quote_id,
            nft=policy_pb2.NftPurchase(
                tx_id="0x" + secrets.token_hex(32),
                current_block="123",
                source_address="0x" + secrets.token_hex(20),
                target_address="0x" + secrets.token_hex(20),
                nft_token_id="42",
            ),
            total_value=total,
            holder=customer_pb2.CustomerProfile(first_name="Ada", last_name="Lovelace", email="ada@example.com"),
        ),
        idempotency_key=str(uuid.uuid4()),
    )
    policy = client.get_policy(policy.policy_id)
    print(f"policy {policy.policy_id}: {policy_pb2.PolicyStatus.Name(policy.status)}")

    # Errors carry a machine-readable reason and every invalid field.
    try:
        client.get_policy("not-a-uuid")
    except CovergateError as err:
        for v in err.violations:
            print(f"{err.reason}: {v.field} {v.reason} ({v.description})")

    subject = f"policies/{policy.policy_id}"
    events = client.list_events(event_pb2.ListEventsRequest(subject=subject)).events
    print(f"{len(events)} event(s) listed")
    with client.watch_events(event_pb2.WatchEventsRequest(subject=subject)) as stream:
        for event in stream:
            print(f"watched event {event.cursor}: {event.type}")
            break  # a real consumer keeps reading, and resumes after the last cursor it processed
