from buf.validate import validate_pb2 as _validate_pb2
from covergate.insurance.v1 import auth_pb2 as _auth_pb2
from covergate.insurance.v1 import common_pb2 as _common_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
QUOTE_KIND_BOOKING: QuoteKind
QUOTE_KIND_DIGITAL_ASSET: QuoteKind
QUOTE_KIND_NFT: QuoteKind
QUOTE_KIND_UNSPECIFIED: QuoteKind

class BookingCover(_message.Message):
    __slots__ = ["chain", "check_in_date", "country", "nft_ids", "token"]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    CHECK_IN_DATE_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    NFT_IDS_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    chain: _common_pb2.Chain
    check_in_date: str
    country: _common_pb2.CoverCountry
    nft_ids: _containers.RepeatedScalarFieldContainer[str]
    token: _common_pb2.Token
    def __init__(self, chain: _Optional[_Union[_common_pb2.Chain, str]] = ..., nft_ids: _Optional[_Iterable[str]] = ..., country: _Optional[_Union[_common_pb2.CoverCountry, str]] = ..., check_in_date: _Optional[str] = ..., token: _Optional[_Union[_common_pb2.Token, str]] = ...) -> None: ...

class CreateQuoteRequest(_message.Message):
    __slots__ = ["booking", "customer_id", "digital_asset", "nft", "total_value"]
    BOOKING_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    DIGITAL_ASSET_FIELD_NUMBER: _ClassVar[int]
    NFT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_VALUE_FIELD_NUMBER: _ClassVar[int]
    booking: BookingCover
    customer_id: str
    digital_asset: DigitalAssetCover
    nft: NftCover
    total_value: _common_pb2.Money
    def __init__(self, nft: _Optional[_Union[NftCover, _Mapping]] = ..., booking: _Optional[_Union[BookingCover, _Mapping]] = ..., digital_asset: _Optional[_Union[DigitalAssetCover, _Mapping]] = ..., total_value: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., customer_id: _Optional[str] = ...) -> None: ...

class CreateQuoteResponse(_message.Message):
    __slots__ = ["quote"]
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    quote: Quote
    def __init__(self, quote: _Optional[_Union[Quote, _Mapping]] = ...) -> None: ...

class DigitalAssetCover(_message.Message):
    __slots__ = ["country"]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    country: _common_pb2.CoverCountry
    def __init__(self, country: _Optional[_Union[_common_pb2.CoverCountry, str]] = ...) -> None: ...

class GetQuoteRequest(_message.Message):
    __slots__ = ["quote_id"]
    QUOTE_ID_FIELD_NUMBER: _ClassVar[int]
    quote_id: str
    def __init__(self, quote_id: _Optional[str] = ...) -> None: ...

class GetQuoteResponse(_message.Message):
    __slots__ = ["quote"]
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    quote: Quote
    def __init__(self, quote: _Optional[_Union[Quote, _Mapping]] = ...) -> None: ...

class NftCover(_message.Message):
    __slots__ = ["chain", "country", "marketplace_contract_address", "nft_contract_address", "token"]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    MARKETPLACE_CONTRACT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    NFT_CONTRACT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    chain: _common_pb2.Chain
    country: _common_pb2.CoverCountry
    marketplace_contract_address: str
    nft_contract_address: str
    token: _common_pb2.Token
    def __init__(self, chain: _Optional[_Union[_common_pb2.Chain, str]] = ..., nft_contract_address: _Optional[str] = ..., marketplace_contract_address: _Optional[str] = ..., country: _Optional[_Union[_common_pb2.CoverCountry, str]] = ..., token: _Optional[_Union[_common_pb2.Token, str]] = ...) -> None: ...

class Quote(_message.Message):
    __slots__ = ["booking", "coverage_percentage", "create_time", "customer_id", "digital_asset", "duration_days", "expire_time", "kind", "nft", "partner", "partner_logo_uri", "partner_proposal_id", "policy_logo_uri", "policy_percentage", "premium", "quote_id", "terms_uri", "total_value"]
    BOOKING_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_PERCENTAGE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    DIGITAL_ASSET_FIELD_NUMBER: _ClassVar[int]
    DURATION_DAYS_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NFT_FIELD_NUMBER: _ClassVar[int]
    PARTNER_FIELD_NUMBER: _ClassVar[int]
    PARTNER_LOGO_URI_FIELD_NUMBER: _ClassVar[int]
    PARTNER_PROPOSAL_ID_FIELD_NUMBER: _ClassVar[int]
    POLICY_LOGO_URI_FIELD_NUMBER: _ClassVar[int]
    POLICY_PERCENTAGE_FIELD_NUMBER: _ClassVar[int]
    PREMIUM_FIELD_NUMBER: _ClassVar[int]
    QUOTE_ID_FIELD_NUMBER: _ClassVar[int]
    TERMS_URI_FIELD_NUMBER: _ClassVar[int]
    TOTAL_VALUE_FIELD_NUMBER: _ClassVar[int]
    booking: BookingCover
    coverage_percentage: str
    create_time: _timestamp_pb2.Timestamp
    customer_id: str
    digital_asset: DigitalAssetCover
    duration_days: int
    expire_time: _timestamp_pb2.Timestamp
    kind: QuoteKind
    nft: NftCover
    partner: _common_pb2.Partner
    partner_logo_uri: str
    partner_proposal_id: str
    policy_logo_uri: str
    policy_percentage: str
    premium: _common_pb2.Money
    quote_id: str
    terms_uri: str
    total_value: _common_pb2.Money
    def __init__(self, quote_id: _Optional[str] = ..., kind: _Optional[_Union[QuoteKind, str]] = ..., partner: _Optional[_Union[_common_pb2.Partner, str]] = ..., partner_proposal_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., nft: _Optional[_Union[NftCover, _Mapping]] = ..., booking: _Optional[_Union[BookingCover, _Mapping]] = ..., digital_asset: _Optional[_Union[DigitalAssetCover, _Mapping]] = ..., total_value: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., premium: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., policy_percentage: _Optional[str] = ..., coverage_percentage: _Optional[str] = ..., duration_days: _Optional[int] = ..., terms_uri: _Optional[str] = ..., policy_logo_uri: _Optional[str] = ..., partner_logo_uri: _Optional[str] = ..., expire_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class QuoteKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
