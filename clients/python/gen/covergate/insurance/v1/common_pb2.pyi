from buf.validate import validate_pb2 as _validate_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

CHAIN_ETHEREUM: Chain
CHAIN_POLYGON: Chain
CHAIN_UNSPECIFIED: Chain
COVER_COUNTRY_BE: CoverCountry
COVER_COUNTRY_DE: CoverCountry
COVER_COUNTRY_GB: CoverCountry
COVER_COUNTRY_GLOBAL: CoverCountry
COVER_COUNTRY_NL: CoverCountry
COVER_COUNTRY_UNSPECIFIED: CoverCountry
DESCRIPTOR: _descriptor.FileDescriptor
PARTNER_AVATA: Partner
PARTNER_ETVAS: Partner
PARTNER_SCALEPOINT: Partner
PARTNER_UNSPECIFIED: Partner
TOKEN_AED: Token
TOKEN_ETH: Token
TOKEN_EUR: Token
TOKEN_GBP: Token
TOKEN_MATIC: Token
TOKEN_UNSPECIFIED: Token
TOKEN_USD: Token
TOKEN_USDC: Token
TOKEN_USDT: Token

class Money(_message.Message):
    __slots__ = ["amount", "currency_code"]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    amount: str
    currency_code: str
    def __init__(self, currency_code: _Optional[str] = ..., amount: _Optional[str] = ...) -> None: ...

class Partner(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class Chain(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class Token(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class CoverCountry(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
