from buf.validate import validate_pb2 as _validate_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EtvasAckData(_message.Message):
    __slots__ = ["product", "user"]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    product: EtvasPartnerRef
    user: EtvasPartnerRef
    def __init__(self, user: _Optional[_Union[EtvasPartnerRef, _Mapping]] = ..., product: _Optional[_Union[EtvasPartnerRef, _Mapping]] = ...) -> None: ...

class EtvasAppPayload(_message.Message):
    __slots__ = ["context_id", "product_id", "purchase_id"]
    CONTEXT_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    PURCHASE_ID_FIELD_NUMBER: _ClassVar[int]
    context_id: str
    product_id: str
    purchase_id: str
    def __init__(self, product_id: _Optional[str] = ..., context_id: _Optional[str] = ..., purchase_id: _Optional[str] = ...) -> None: ...

class EtvasAppProfile(_message.Message):
    __slots__ = ["email", "first_name", "last_name", "phone_number"]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    FIRST_NAME_FIELD_NUMBER: _ClassVar[int]
    LAST_NAME_FIELD_NUMBER: _ClassVar[int]
    PHONE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    email: str
    first_name: str
    last_name: str
    phone_number: str
    def __init__(self, first_name: _Optional[str] = ..., last_name: _Optional[str] = ..., email: _Optional[str] = ..., phone_number: _Optional[str] = ...) -> None: ...

class EtvasAuth(_message.Message):
    __slots__ = ["expires", "token"]
    EXPIRES_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    expires: int
    token: str
    def __init__(self, token: _Optional[str] = ..., expires: _Optional[int] = ...) -> None: ...

class EtvasEvent(_message.Message):
    __slots__ = ["id", "timestamp", "type"]
    ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    id: str
    timestamp: int
    type: str
    def __init__(self, id: _Optional[str] = ..., type: _Optional[str] = ..., timestamp: _Optional[int] = ...) -> None: ...

class EtvasEventAck(_message.Message):
    __slots__ = ["id"]
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class EtvasEventData(_message.Message):
    __slots__ = ["product", "user", "web_identity"]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    WEB_IDENTITY_FIELD_NUMBER: _ClassVar[int]
    product: EtvasProduct
    user: EtvasUserProfile
    web_identity: EtvasWebIdentity
    def __init__(self, user: _Optional[_Union[EtvasUserProfile, _Mapping]] = ..., web_identity: _Optional[_Union[EtvasWebIdentity, _Mapping]] = ..., product: _Optional[_Union[EtvasProduct, _Mapping]] = ...) -> None: ...

class EtvasPartnerRef(_message.Message):
    __slots__ = ["id", "partner_id"]
    ID_FIELD_NUMBER: _ClassVar[int]
    PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    partner_id: str
    def __init__(self, id: _Optional[str] = ..., partner_id: _Optional[str] = ...) -> None: ...

class EtvasProduct(_message.Message):
    __slots__ = ["id", "name", "partner_id", "price", "price_interval", "price_type"]
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    PRICE_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    PRICE_TYPE_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    partner_id: str
    price: float
    price_interval: str
    price_type: str
    def __init__(self, id: _Optional[str] = ..., partner_id: _Optional[str] = ..., name: _Optional[str] = ..., price: _Optional[float] = ..., price_type: _Optional[str] = ..., price_interval: _Optional[str] = ...) -> None: ...

class EtvasUser(_message.Message):
    __slots__ = ["auth", "id", "partner_id"]
    AUTH_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    PARTNER_ID_FIELD_NUMBER: _ClassVar[int]
    auth: EtvasAuth
    id: str
    partner_id: str
    def __init__(self, id: _Optional[str] = ..., partner_id: _Optional[str] = ..., auth: _Optional[_Union[EtvasAuth, _Mapping]] = ...) -> None: ...

class EtvasUserProfile(_message.Message):
    __slots__ = ["address1", "address2", "city", "country", "date_of_birth", "email", "first_name", "last_name", "phone", "postal_code", "region_state", "salutation"]
    ADDRESS1_FIELD_NUMBER: _ClassVar[int]
    ADDRESS2_FIELD_NUMBER: _ClassVar[int]
    CITY_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    DATE_OF_BIRTH_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    FIRST_NAME_FIELD_NUMBER: _ClassVar[int]
    LAST_NAME_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    POSTAL_CODE_FIELD_NUMBER: _ClassVar[int]
    REGION_STATE_FIELD_NUMBER: _ClassVar[int]
    SALUTATION_FIELD_NUMBER: _ClassVar[int]
    address1: str
    address2: str
    city: str
    country: str
    date_of_birth: str
    email: str
    first_name: str
    last_name: str
    phone: str
    postal_code: str
    region_state: str
    salutation: str
    def __init__(self, salutation: _Optional[str] = ..., first_name: _Optional[str] = ..., last_name: _Optional[str] = ..., email: _Optional[str] = ..., phone: _Optional[str] = ..., date_of_birth: _Optional[str] = ..., address1: _Optional[str] = ..., address2: _Optional[str] = ..., city: _Optional[str] = ..., region_state: _Optional[str] = ..., country: _Optional[str] = ..., postal_code: _Optional[str] = ...) -> None: ...

class EtvasWebIdentity(_message.Message):
    __slots__ = ["status", "verification_id"]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VERIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    status: str
    verification_id: str
    def __init__(self, status: _Optional[str] = ..., verification_id: _Optional[str] = ...) -> None: ...

class HandleAppEventRequest(_message.Message):
    __slots__ = ["metadata", "name", "payload", "profile", "timestamp"]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    metadata: _struct_pb2.Struct
    name: str
    payload: EtvasAppPayload
    profile: EtvasAppProfile
    timestamp: int
    def __init__(self, name: _Optional[str] = ..., payload: _Optional[_Union[EtvasAppPayload, _Mapping]] = ..., timestamp: _Optional[int] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., profile: _Optional[_Union[EtvasAppProfile, _Mapping]] = ...) -> None: ...

class HandleAppEventResponse(_message.Message):
    __slots__ = ["delivery_id", "policy_id", "status"]
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    delivery_id: str
    policy_id: str
    status: str
    def __init__(self, status: _Optional[str] = ..., delivery_id: _Optional[str] = ..., policy_id: _Optional[str] = ...) -> None: ...

class HandlePortalEventRequest(_message.Message):
    __slots__ = ["data", "event", "user"]
    DATA_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    data: EtvasEventData
    event: EtvasEvent
    user: EtvasUser
    def __init__(self, event: _Optional[_Union[EtvasEvent, _Mapping]] = ..., user: _Optional[_Union[EtvasUser, _Mapping]] = ..., data: _Optional[_Union[EtvasEventData, _Mapping]] = ...) -> None: ...

class HandlePortalEventResponse(_message.Message):
    __slots__ = ["data", "event", "status", "user"]
    DATA_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    data: EtvasAckData
    event: EtvasEventAck
    status: int
    user: EtvasPartnerRef
    def __init__(self, status: _Optional[int] = ..., event: _Optional[_Union[EtvasEventAck, _Mapping]] = ..., user: _Optional[_Union[EtvasPartnerRef, _Mapping]] = ..., data: _Optional[_Union[EtvasAckData, _Mapping]] = ...) -> None: ...
