from buf.validate import validate_pb2 as _validate_pb2
from covergate.insurance.v1 import auth_pb2 as _auth_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

CUSTOMER_STATE_ACTIVE: CustomerState
CUSTOMER_STATE_ERASED: CustomerState
CUSTOMER_STATE_UNSPECIFIED: CustomerState
DESCRIPTOR: _descriptor.FileDescriptor
ERASURE_REASON_CREATED_IN_ERROR: ErasureReason
ERASURE_REASON_DATA_SUBJECT_REQUEST: ErasureReason
ERASURE_REASON_LEGAL_OBLIGATION: ErasureReason
ERASURE_REASON_OTHER: ErasureReason
ERASURE_REASON_PARTNER_DELETION: ErasureReason
ERASURE_REASON_RETENTION_EXPIRED: ErasureReason
ERASURE_REASON_UNSPECIFIED: ErasureReason

class CompleteWalletSignInRequest(_message.Message):
    __slots__ = ["customer_id", "signature", "wallet_address"]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    WALLET_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    signature: str
    wallet_address: str
    def __init__(self, customer_id: _Optional[str] = ..., wallet_address: _Optional[str] = ..., signature: _Optional[str] = ...) -> None: ...

class CompleteWalletSignInResponse(_message.Message):
    __slots__ = ["session"]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: WalletSession
    def __init__(self, session: _Optional[_Union[WalletSession, _Mapping]] = ...) -> None: ...

class Customer(_message.Message):
    __slots__ = ["create_time", "customer_id", "erase_time", "identity_verification", "kyc", "partner_refs", "profile", "pseudonym_id", "state", "update_time"]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    ERASE_TIME_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_VERIFICATION_FIELD_NUMBER: _ClassVar[int]
    KYC_FIELD_NUMBER: _ClassVar[int]
    PARTNER_REFS_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    PSEUDONYM_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    create_time: _timestamp_pb2.Timestamp
    customer_id: str
    erase_time: _timestamp_pb2.Timestamp
    identity_verification: IdentityVerification
    kyc: KycStatus
    partner_refs: CustomerPartnerRefs
    profile: CustomerProfile
    pseudonym_id: str
    state: CustomerState
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, customer_id: _Optional[str] = ..., pseudonym_id: _Optional[str] = ..., state: _Optional[_Union[CustomerState, str]] = ..., profile: _Optional[_Union[CustomerProfile, _Mapping]] = ..., identity_verification: _Optional[_Union[IdentityVerification, _Mapping]] = ..., partner_refs: _Optional[_Union[CustomerPartnerRefs, _Mapping]] = ..., kyc: _Optional[_Union[KycStatus, _Mapping]] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., erase_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CustomerPartnerRefs(_message.Message):
    __slots__ = ["avata_wallet_address", "etvas_context_ids", "etvas_user_id"]
    AVATA_WALLET_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ETVAS_CONTEXT_IDS_FIELD_NUMBER: _ClassVar[int]
    ETVAS_USER_ID_FIELD_NUMBER: _ClassVar[int]
    avata_wallet_address: str
    etvas_context_ids: _containers.RepeatedScalarFieldContainer[str]
    etvas_user_id: str
    def __init__(self, etvas_user_id: _Optional[str] = ..., etvas_context_ids: _Optional[_Iterable[str]] = ..., avata_wallet_address: _Optional[str] = ...) -> None: ...

class CustomerProfile(_message.Message):
    __slots__ = ["address", "date_of_birth", "email", "first_name", "last_name", "phone", "salutation"]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    DATE_OF_BIRTH_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    FIRST_NAME_FIELD_NUMBER: _ClassVar[int]
    LAST_NAME_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    SALUTATION_FIELD_NUMBER: _ClassVar[int]
    address: PostalAddress
    date_of_birth: str
    email: str
    first_name: str
    last_name: str
    phone: str
    salutation: str
    def __init__(self, salutation: _Optional[str] = ..., first_name: _Optional[str] = ..., last_name: _Optional[str] = ..., email: _Optional[str] = ..., phone: _Optional[str] = ..., date_of_birth: _Optional[str] = ..., address: _Optional[_Union[PostalAddress, _Mapping]] = ...) -> None: ...

class DeleteExternalDataRequest(_message.Message):
    __slots__ = ["context_id", "key"]
    CONTEXT_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    context_id: str
    key: str
    def __init__(self, key: _Optional[str] = ..., context_id: _Optional[str] = ...) -> None: ...

class DeleteExternalDataResponse(_message.Message):
    __slots__ = ["key"]
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: str
    def __init__(self, key: _Optional[str] = ...) -> None: ...

class DeleteWalletSessionRequest(_message.Message):
    __slots__ = ["customer_id"]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    def __init__(self, customer_id: _Optional[str] = ...) -> None: ...

class DeleteWalletSessionResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class EraseCustomerRequest(_message.Message):
    __slots__ = ["customer_id", "reason", "reason_code"]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    reason: str
    reason_code: ErasureReason
    def __init__(self, customer_id: _Optional[str] = ..., reason: _Optional[str] = ..., reason_code: _Optional[_Union[ErasureReason, str]] = ...) -> None: ...

class EraseCustomerResponse(_message.Message):
    __slots__ = ["customer"]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ...) -> None: ...

class GetCustomerRequest(_message.Message):
    __slots__ = ["customer_id"]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    def __init__(self, customer_id: _Optional[str] = ...) -> None: ...

class GetCustomerResponse(_message.Message):
    __slots__ = ["customer"]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ...) -> None: ...

class GetExternalDataRequest(_message.Message):
    __slots__ = ["context_id", "key"]
    CONTEXT_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    context_id: str
    key: str
    def __init__(self, key: _Optional[str] = ..., context_id: _Optional[str] = ...) -> None: ...

class GetExternalDataResponse(_message.Message):
    __slots__ = ["data", "found", "key"]
    DATA_FIELD_NUMBER: _ClassVar[int]
    FOUND_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    data: str
    found: bool
    key: str
    def __init__(self, key: _Optional[str] = ..., found: bool = ..., data: _Optional[str] = ...) -> None: ...

class GetWalletSessionRequest(_message.Message):
    __slots__ = ["customer_id"]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    def __init__(self, customer_id: _Optional[str] = ...) -> None: ...

class GetWalletSessionResponse(_message.Message):
    __slots__ = ["session"]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: WalletSession
    def __init__(self, session: _Optional[_Union[WalletSession, _Mapping]] = ...) -> None: ...

class IdentityVerification(_message.Message):
    __slots__ = ["status", "verification_id"]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VERIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    status: str
    verification_id: str
    def __init__(self, status: _Optional[str] = ..., verification_id: _Optional[str] = ...) -> None: ...

class KycStatus(_message.Message):
    __slots__ = ["policy_id", "provider", "submit_time"]
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    SUBMIT_TIME_FIELD_NUMBER: _ClassVar[int]
    policy_id: str
    provider: str
    submit_time: _timestamp_pb2.Timestamp
    def __init__(self, provider: _Optional[str] = ..., policy_id: _Optional[str] = ..., submit_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class NotifyCustomerRequest(_message.Message):
    __slots__ = ["context_id", "customer_id", "locale", "message", "subject"]
    CONTEXT_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    LOCALE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    context_id: str
    customer_id: str
    locale: str
    message: str
    subject: str
    def __init__(self, customer_id: _Optional[str] = ..., context_id: _Optional[str] = ..., locale: _Optional[str] = ..., subject: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class NotifyCustomerResponse(_message.Message):
    __slots__ = ["context_id"]
    CONTEXT_ID_FIELD_NUMBER: _ClassVar[int]
    context_id: str
    def __init__(self, context_id: _Optional[str] = ...) -> None: ...

class PostalAddress(_message.Message):
    __slots__ = ["city", "country", "country_code", "house_number", "house_number_suffix", "line1", "line2", "postal_code", "region", "street"]
    CITY_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_CODE_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    HOUSE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    HOUSE_NUMBER_SUFFIX_FIELD_NUMBER: _ClassVar[int]
    LINE1_FIELD_NUMBER: _ClassVar[int]
    LINE2_FIELD_NUMBER: _ClassVar[int]
    POSTAL_CODE_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    STREET_FIELD_NUMBER: _ClassVar[int]
    city: str
    country: str
    country_code: str
    house_number: str
    house_number_suffix: str
    line1: str
    line2: str
    postal_code: str
    region: str
    street: str
    def __init__(self, line1: _Optional[str] = ..., line2: _Optional[str] = ..., city: _Optional[str] = ..., region: _Optional[str] = ..., country: _Optional[str] = ..., postal_code: _Optional[str] = ..., street: _Optional[str] = ..., house_number: _Optional[str] = ..., house_number_suffix: _Optional[str] = ..., country_code: _Optional[str] = ...) -> None: ...

class PutExternalDataRequest(_message.Message):
    __slots__ = ["context_id", "data", "key"]
    CONTEXT_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    context_id: str
    data: str
    key: str
    def __init__(self, key: _Optional[str] = ..., context_id: _Optional[str] = ..., data: _Optional[str] = ...) -> None: ...

class PutExternalDataResponse(_message.Message):
    __slots__ = ["key"]
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: str
    def __init__(self, key: _Optional[str] = ...) -> None: ...

class StartWalletSignInRequest(_message.Message):
    __slots__ = ["chain_id", "customer_id", "wallet_address"]
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    WALLET_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    chain_id: int
    customer_id: str
    wallet_address: str
    def __init__(self, customer_id: _Optional[str] = ..., wallet_address: _Optional[str] = ..., chain_id: _Optional[int] = ...) -> None: ...

class StartWalletSignInResponse(_message.Message):
    __slots__ = ["chain_id", "expire_time", "message", "wallet_address"]
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    WALLET_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    chain_id: int
    expire_time: _timestamp_pb2.Timestamp
    message: str
    wallet_address: str
    def __init__(self, wallet_address: _Optional[str] = ..., chain_id: _Optional[int] = ..., message: _Optional[str] = ..., expire_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SubmitKycRequest(_message.Message):
    __slots__ = ["customer_id", "payload", "policy_id", "provider"]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    payload: _struct_pb2.Struct
    policy_id: str
    provider: str
    def __init__(self, customer_id: _Optional[str] = ..., policy_id: _Optional[str] = ..., provider: _Optional[str] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class SubmitKycResponse(_message.Message):
    __slots__ = ["customer"]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ...) -> None: ...

class VerifyPortalTokenRequest(_message.Message):
    __slots__ = ["token"]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    def __init__(self, token: _Optional[str] = ...) -> None: ...

class VerifyPortalTokenResponse(_message.Message):
    __slots__ = ["context_id", "created", "customer"]
    CONTEXT_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    context_id: str
    created: bool
    customer: Customer
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ..., context_id: _Optional[str] = ..., created: bool = ...) -> None: ...

class WalletSession(_message.Message):
    __slots__ = ["chain_id", "create_time", "customer_id", "expire_time", "expired", "wallet_address"]
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    WALLET_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    chain_id: int
    create_time: _timestamp_pb2.Timestamp
    customer_id: str
    expire_time: _timestamp_pb2.Timestamp
    expired: bool
    wallet_address: str
    def __init__(self, customer_id: _Optional[str] = ..., wallet_address: _Optional[str] = ..., chain_id: _Optional[int] = ..., expire_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., expired: bool = ...) -> None: ...

class CustomerState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ErasureReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
