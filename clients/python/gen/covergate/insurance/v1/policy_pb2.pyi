from buf.validate import validate_pb2 as _validate_pb2
from covergate.insurance.v1 import auth_pb2 as _auth_pb2
from covergate.insurance.v1 import common_pb2 as _common_pb2
from covergate.insurance.v1 import customer_pb2 as _customer_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
POLICY_KIND_BOOKING: PolicyKind
POLICY_KIND_DIGITAL_ASSET: PolicyKind
POLICY_KIND_ETVAS_PRODUCT: PolicyKind
POLICY_KIND_NFT: PolicyKind
POLICY_KIND_UNSPECIFIED: PolicyKind
POLICY_STATUS_ACTIVE: PolicyStatus
POLICY_STATUS_CANCELED: PolicyStatus
POLICY_STATUS_EXPIRED: PolicyStatus
POLICY_STATUS_FAILED: PolicyStatus
POLICY_STATUS_PENDING: PolicyStatus
POLICY_STATUS_REJECTED: PolicyStatus
POLICY_STATUS_SUSPENDED: PolicyStatus
POLICY_STATUS_UNSPECIFIED: PolicyStatus

class ActivatePolicyRequest(_message.Message):
    __slots__ = ["chain", "etag", "nft_ids", "policy_id", "token", "wallet_address"]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    NFT_IDS_FIELD_NUMBER: _ClassVar[int]
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    WALLET_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    chain: _common_pb2.Chain
    etag: str
    nft_ids: _containers.RepeatedScalarFieldContainer[str]
    policy_id: str
    token: _common_pb2.Token
    wallet_address: str
    def __init__(self, policy_id: _Optional[str] = ..., etag: _Optional[str] = ..., chain: _Optional[_Union[_common_pb2.Chain, str]] = ..., nft_ids: _Optional[_Iterable[str]] = ..., wallet_address: _Optional[str] = ..., token: _Optional[_Union[_common_pb2.Token, str]] = ...) -> None: ...

class ActivatePolicyResponse(_message.Message):
    __slots__ = ["policy"]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: Policy
    def __init__(self, policy: _Optional[_Union[Policy, _Mapping]] = ...) -> None: ...

class AvataPolicyData(_message.Message):
    __slots__ = ["finish_time", "owner_wallet_address", "partner_status", "policy_hash", "policy_id", "policy_type", "reference", "sync_time"]
    FINISH_TIME_FIELD_NUMBER: _ClassVar[int]
    OWNER_WALLET_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PARTNER_STATUS_FIELD_NUMBER: _ClassVar[int]
    POLICY_HASH_FIELD_NUMBER: _ClassVar[int]
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    POLICY_TYPE_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    SYNC_TIME_FIELD_NUMBER: _ClassVar[int]
    finish_time: _timestamp_pb2.Timestamp
    owner_wallet_address: str
    partner_status: str
    policy_hash: str
    policy_id: str
    policy_type: str
    reference: str
    sync_time: _timestamp_pb2.Timestamp
    def __init__(self, policy_id: _Optional[str] = ..., policy_hash: _Optional[str] = ..., policy_type: _Optional[str] = ..., partner_status: _Optional[str] = ..., reference: _Optional[str] = ..., finish_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., owner_wallet_address: _Optional[str] = ..., sync_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Billing(_message.Message):
    __slots__ = ["price_interval", "price_type"]
    PRICE_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    PRICE_TYPE_FIELD_NUMBER: _ClassVar[int]
    price_interval: str
    price_type: str
    def __init__(self, price_type: _Optional[str] = ..., price_interval: _Optional[str] = ...) -> None: ...

class BookingPurchase(_message.Message):
    __slots__ = ["booking_time", "booking_wallet_address", "metadata", "tx_id", "wallet_address"]
    BOOKING_TIME_FIELD_NUMBER: _ClassVar[int]
    BOOKING_WALLET_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    TX_ID_FIELD_NUMBER: _ClassVar[int]
    WALLET_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    booking_time: _timestamp_pb2.Timestamp
    booking_wallet_address: str
    metadata: _struct_pb2.Struct
    tx_id: str
    wallet_address: str
    def __init__(self, booking_wallet_address: _Optional[str] = ..., wallet_address: _Optional[str] = ..., tx_id: _Optional[str] = ..., booking_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class CancelPolicyRequest(_message.Message):
    __slots__ = ["etag", "policy_id", "reason"]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    etag: str
    policy_id: str
    reason: str
    def __init__(self, policy_id: _Optional[str] = ..., etag: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelPolicyResponse(_message.Message):
    __slots__ = ["policy"]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: Policy
    def __init__(self, policy: _Optional[_Union[Policy, _Mapping]] = ...) -> None: ...

class CarrierPolicy(_message.Message):
    __slots__ = ["avata", "avata_policy_uuid", "confirm_time", "coverage_percentage", "duration", "end_time", "nft", "policy_id", "start_time", "total_value"]
    AVATA_FIELD_NUMBER: _ClassVar[int]
    AVATA_POLICY_UUID_FIELD_NUMBER: _ClassVar[int]
    CONFIRM_TIME_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_PERCENTAGE_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    NFT_FIELD_NUMBER: _ClassVar[int]
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    TOTAL_VALUE_FIELD_NUMBER: _ClassVar[int]
    avata: AvataPolicyData
    avata_policy_uuid: str
    confirm_time: _timestamp_pb2.Timestamp
    coverage_percentage: str
    duration: str
    end_time: _timestamp_pb2.Timestamp
    nft: CarrierPolicyNft
    policy_id: str
    start_time: _timestamp_pb2.Timestamp
    total_value: str
    def __init__(self, avata_policy_uuid: _Optional[str] = ..., policy_id: _Optional[str] = ..., avata: _Optional[_Union[AvataPolicyData, _Mapping]] = ..., start_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., total_value: _Optional[str] = ..., duration: _Optional[str] = ..., coverage_percentage: _Optional[str] = ..., confirm_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., nft: _Optional[_Union[CarrierPolicyNft, _Mapping]] = ...) -> None: ...

class CarrierPolicyNft(_message.Message):
    __slots__ = ["chain", "contract_id", "owner", "source", "target", "title", "token", "token_id", "tx_id", "uri"]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    TX_ID_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    chain: str
    contract_id: str
    owner: str
    source: str
    target: str
    title: str
    token: str
    token_id: str
    tx_id: str
    uri: str
    def __init__(self, tx_id: _Optional[str] = ..., source: _Optional[str] = ..., target: _Optional[str] = ..., token: _Optional[str] = ..., owner: _Optional[str] = ..., chain: _Optional[str] = ..., token_id: _Optional[str] = ..., contract_id: _Optional[str] = ..., title: _Optional[str] = ..., uri: _Optional[str] = ...) -> None: ...

class CreatePolicyRequest(_message.Message):
    __slots__ = ["booking", "customer_id", "digital_asset", "holder", "nft", "quote_id", "reference", "total_value"]
    BOOKING_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    DIGITAL_ASSET_FIELD_NUMBER: _ClassVar[int]
    HOLDER_FIELD_NUMBER: _ClassVar[int]
    NFT_FIELD_NUMBER: _ClassVar[int]
    QUOTE_ID_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_VALUE_FIELD_NUMBER: _ClassVar[int]
    booking: BookingPurchase
    customer_id: str
    digital_asset: DigitalAssetPurchase
    holder: _customer_pb2.CustomerProfile
    nft: NftPurchase
    quote_id: str
    reference: str
    total_value: _common_pb2.Money
    def __init__(self, quote_id: _Optional[str] = ..., nft: _Optional[_Union[NftPurchase, _Mapping]] = ..., booking: _Optional[_Union[BookingPurchase, _Mapping]] = ..., digital_asset: _Optional[_Union[DigitalAssetPurchase, _Mapping]] = ..., total_value: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., customer_id: _Optional[str] = ..., holder: _Optional[_Union[_customer_pb2.CustomerProfile, _Mapping]] = ..., reference: _Optional[str] = ...) -> None: ...

class CreatePolicyResponse(_message.Message):
    __slots__ = ["policy"]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: Policy
    def __init__(self, policy: _Optional[_Union[Policy, _Mapping]] = ...) -> None: ...

class DigitalAssetPurchase(_message.Message):
    __slots__ = ["invoice_id"]
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    invoice_id: str
    def __init__(self, invoice_id: _Optional[str] = ...) -> None: ...

class GetPolicyRequest(_message.Message):
    __slots__ = ["policy_id"]
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    policy_id: str
    def __init__(self, policy_id: _Optional[str] = ...) -> None: ...

class GetPolicyRequestStatusRequest(_message.Message):
    __slots__ = ["policy_id"]
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    policy_id: str
    def __init__(self, policy_id: _Optional[str] = ...) -> None: ...

class GetPolicyRequestStatusResponse(_message.Message):
    __slots__ = ["avata_policy_uuid", "event_type", "mapped_status", "partner_status", "policy_id", "reference"]
    AVATA_POLICY_UUID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    MAPPED_STATUS_FIELD_NUMBER: _ClassVar[int]
    PARTNER_STATUS_FIELD_NUMBER: _ClassVar[int]
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    avata_policy_uuid: str
    event_type: str
    mapped_status: PolicyStatus
    partner_status: str
    policy_id: str
    reference: str
    def __init__(self, policy_id: _Optional[str] = ..., avata_policy_uuid: _Optional[str] = ..., event_type: _Optional[str] = ..., partner_status: _Optional[str] = ..., reference: _Optional[str] = ..., mapped_status: _Optional[_Union[PolicyStatus, str]] = ...) -> None: ...

class GetPolicyResponse(_message.Message):
    __slots__ = ["policy"]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: Policy
    def __init__(self, policy: _Optional[_Union[Policy, _Mapping]] = ...) -> None: ...

class ListPoliciesRequest(_message.Message):
    __slots__ = ["customer_id", "page_size", "page_token", "partner", "status"]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PARTNER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    page_size: int
    page_token: str
    partner: _common_pb2.Partner
    status: PolicyStatus
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., customer_id: _Optional[str] = ..., partner: _Optional[_Union[_common_pb2.Partner, str]] = ..., status: _Optional[_Union[PolicyStatus, str]] = ...) -> None: ...

class ListPoliciesResponse(_message.Message):
    __slots__ = ["next_page_token", "policies"]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    POLICIES_FIELD_NUMBER: _ClassVar[int]
    next_page_token: str
    policies: _containers.RepeatedCompositeFieldContainer[Policy]
    def __init__(self, policies: _Optional[_Iterable[_Union[Policy, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListWalletPoliciesRequest(_message.Message):
    __slots__ = ["customer_id"]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    def __init__(self, customer_id: _Optional[str] = ...) -> None: ...

class ListWalletPoliciesResponse(_message.Message):
    __slots__ = ["chain_id", "policies", "wallet_address"]
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    POLICIES_FIELD_NUMBER: _ClassVar[int]
    WALLET_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    chain_id: int
    policies: _containers.RepeatedCompositeFieldContainer[CarrierPolicy]
    wallet_address: str
    def __init__(self, wallet_address: _Optional[str] = ..., chain_id: _Optional[int] = ..., policies: _Optional[_Iterable[_Union[CarrierPolicy, _Mapping]]] = ...) -> None: ...

class NftPurchase(_message.Message):
    __slots__ = ["current_block", "metadata", "nft_token_id", "source_address", "target_address", "tx_id"]
    CURRENT_BLOCK_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    NFT_TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TARGET_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TX_ID_FIELD_NUMBER: _ClassVar[int]
    current_block: str
    metadata: _struct_pb2.Struct
    nft_token_id: str
    source_address: str
    target_address: str
    tx_id: str
    def __init__(self, tx_id: _Optional[str] = ..., current_block: _Optional[str] = ..., source_address: _Optional[str] = ..., target_address: _Optional[str] = ..., nft_token_id: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class Policy(_message.Message):
    __slots__ = ["avata", "billing", "create_time", "customer_id", "end_time", "etag", "kind", "partner", "partner_refs", "policy_id", "premium", "product_name", "quote_id", "start_time", "status", "status_time", "update_time"]
    AVATA_FIELD_NUMBER: _ClassVar[int]
    BILLING_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PARTNER_FIELD_NUMBER: _ClassVar[int]
    PARTNER_REFS_FIELD_NUMBER: _ClassVar[int]
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    PREMIUM_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_NAME_FIELD_NUMBER: _ClassVar[int]
    QUOTE_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    avata: AvataPolicyData
    billing: Billing
    create_time: _timestamp_pb2.Timestamp
    customer_id: str
    end_time: _timestamp_pb2.Timestamp
    etag: str
    kind: PolicyKind
    partner: _common_pb2.Partner
    partner_refs: PolicyPartnerRefs
    policy_id: str
    premium: _common_pb2.Money
    product_name: str
    quote_id: str
    start_time: _timestamp_pb2.Timestamp
    status: PolicyStatus
    status_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, policy_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., quote_id: _Optional[str] = ..., partner: _Optional[_Union[_common_pb2.Partner, str]] = ..., kind: _Optional[_Union[PolicyKind, str]] = ..., product_name: _Optional[str] = ..., status: _Optional[_Union[PolicyStatus, str]] = ..., premium: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., billing: _Optional[_Union[Billing, _Mapping]] = ..., partner_refs: _Optional[_Union[PolicyPartnerRefs, _Mapping]] = ..., start_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., status_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., avata: _Optional[_Union[AvataPolicyData, _Mapping]] = ...) -> None: ...

class PolicyPartnerRefs(_message.Message):
    __slots__ = ["avata_policy_uuid", "avata_reference", "etvas_context_id", "etvas_product_id", "etvas_user_id"]
    AVATA_POLICY_UUID_FIELD_NUMBER: _ClassVar[int]
    AVATA_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    ETVAS_CONTEXT_ID_FIELD_NUMBER: _ClassVar[int]
    ETVAS_PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    ETVAS_USER_ID_FIELD_NUMBER: _ClassVar[int]
    avata_policy_uuid: str
    avata_reference: str
    etvas_context_id: str
    etvas_product_id: str
    etvas_user_id: str
    def __init__(self, etvas_context_id: _Optional[str] = ..., etvas_product_id: _Optional[str] = ..., etvas_user_id: _Optional[str] = ..., avata_policy_uuid: _Optional[str] = ..., avata_reference: _Optional[str] = ...) -> None: ...

class RefreshPolicyRequest(_message.Message):
    __slots__ = ["policy_id"]
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    policy_id: str
    def __init__(self, policy_id: _Optional[str] = ...) -> None: ...

class RefreshPolicyResponse(_message.Message):
    __slots__ = ["changed", "policy"]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    changed: bool
    policy: Policy
    def __init__(self, policy: _Optional[_Union[Policy, _Mapping]] = ..., changed: bool = ...) -> None: ...

class PolicyStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class PolicyKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
