from buf.validate import validate_pb2 as _validate_pb2
from covergate.insurance.v1 import auth_pb2 as _auth_pb2
from covergate.insurance.v1 import common_pb2 as _common_pb2
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
PUBLICATION_STATUS_DELIVERED: PublicationStatus
PUBLICATION_STATUS_FAILED: PublicationStatus
PUBLICATION_STATUS_PENDING: PublicationStatus
PUBLICATION_STATUS_UNSPECIFIED: PublicationStatus

class Destination(_message.Message):
    __slots__ = ["country", "tenant"]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    country: str
    tenant: str
    def __init__(self, country: _Optional[str] = ..., tenant: _Optional[str] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ["cursor", "data", "event_id", "partner", "subject", "time", "type"]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    PARTNER_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    cursor: int
    data: _struct_pb2.Struct
    event_id: str
    partner: _common_pb2.Partner
    subject: str
    time: _timestamp_pb2.Timestamp
    type: str
    def __init__(self, cursor: _Optional[int] = ..., event_id: _Optional[str] = ..., type: _Optional[str] = ..., subject: _Optional[str] = ..., partner: _Optional[_Union[_common_pb2.Partner, str]] = ..., data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetPublicationRequest(_message.Message):
    __slots__ = ["publication_id"]
    PUBLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    publication_id: str
    def __init__(self, publication_id: _Optional[str] = ...) -> None: ...

class GetPublicationResponse(_message.Message):
    __slots__ = ["publication"]
    PUBLICATION_FIELD_NUMBER: _ClassVar[int]
    publication: Publication
    def __init__(self, publication: _Optional[_Union[Publication, _Mapping]] = ...) -> None: ...

class ListEventsRequest(_message.Message):
    __slots__ = ["after_cursor", "page_size", "page_token", "partner", "subject", "types"]
    AFTER_CURSOR_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PARTNER_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    after_cursor: int
    page_size: int
    page_token: str
    partner: _common_pb2.Partner
    subject: str
    types: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, after_cursor: _Optional[int] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., types: _Optional[_Iterable[str]] = ..., subject: _Optional[str] = ..., partner: _Optional[_Union[_common_pb2.Partner, str]] = ...) -> None: ...

class ListEventsResponse(_message.Message):
    __slots__ = ["events", "next_page_token"]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListPublicationsRequest(_message.Message):
    __slots__ = ["event_type", "page_size", "page_token", "status"]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    event_type: str
    page_size: int
    page_token: str
    status: PublicationStatus
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., status: _Optional[_Union[PublicationStatus, str]] = ..., event_type: _Optional[str] = ...) -> None: ...

class ListPublicationsResponse(_message.Message):
    __slots__ = ["next_page_token", "publications"]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PUBLICATIONS_FIELD_NUMBER: _ClassVar[int]
    next_page_token: str
    publications: _containers.RepeatedCompositeFieldContainer[Publication]
    def __init__(self, publications: _Optional[_Iterable[_Union[Publication, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class Publication(_message.Message):
    __slots__ = ["attempts", "correlation_id", "create_time", "deliver_time", "destination", "event_type", "last_error", "next_attempt_time", "partner_event_id", "partner_event_ref", "payload", "payload_version", "publication_id", "status", "update_time"]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    DELIVER_TIME_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    NEXT_ATTEMPT_TIME_FIELD_NUMBER: _ClassVar[int]
    PARTNER_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    PARTNER_EVENT_REF_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_VERSION_FIELD_NUMBER: _ClassVar[int]
    PUBLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    attempts: int
    correlation_id: str
    create_time: _timestamp_pb2.Timestamp
    deliver_time: _timestamp_pb2.Timestamp
    destination: Destination
    event_type: str
    last_error: str
    next_attempt_time: _timestamp_pb2.Timestamp
    partner_event_id: int
    partner_event_ref: str
    payload: _struct_pb2.Struct
    payload_version: str
    publication_id: str
    status: PublicationStatus
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, publication_id: _Optional[str] = ..., destination: _Optional[_Union[Destination, _Mapping]] = ..., event_type: _Optional[str] = ..., correlation_id: _Optional[str] = ..., payload_version: _Optional[str] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., status: _Optional[_Union[PublicationStatus, str]] = ..., attempts: _Optional[int] = ..., next_attempt_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., last_error: _Optional[str] = ..., partner_event_id: _Optional[int] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., deliver_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., partner_event_ref: _Optional[str] = ...) -> None: ...

class PublishEventRequest(_message.Message):
    __slots__ = ["correlation_id", "destination", "event_type", "payload", "payload_version"]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_VERSION_FIELD_NUMBER: _ClassVar[int]
    correlation_id: str
    destination: Destination
    event_type: str
    payload: _struct_pb2.Struct
    payload_version: str
    def __init__(self, event_type: _Optional[str] = ..., destination: _Optional[_Union[Destination, _Mapping]] = ..., payload_version: _Optional[str] = ..., correlation_id: _Optional[str] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class PublishEventResponse(_message.Message):
    __slots__ = ["publication"]
    PUBLICATION_FIELD_NUMBER: _ClassVar[int]
    publication: Publication
    def __init__(self, publication: _Optional[_Union[Publication, _Mapping]] = ...) -> None: ...

class RetryPublicationRequest(_message.Message):
    __slots__ = ["publication_id"]
    PUBLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    publication_id: str
    def __init__(self, publication_id: _Optional[str] = ...) -> None: ...

class RetryPublicationResponse(_message.Message):
    __slots__ = ["publication"]
    PUBLICATION_FIELD_NUMBER: _ClassVar[int]
    publication: Publication
    def __init__(self, publication: _Optional[_Union[Publication, _Mapping]] = ...) -> None: ...

class WatchEventsRequest(_message.Message):
    __slots__ = ["after_cursor", "partner", "subject", "types"]
    AFTER_CURSOR_FIELD_NUMBER: _ClassVar[int]
    PARTNER_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    after_cursor: int
    partner: _common_pb2.Partner
    subject: str
    types: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, after_cursor: _Optional[int] = ..., types: _Optional[_Iterable[str]] = ..., subject: _Optional[str] = ..., partner: _Optional[_Union[_common_pb2.Partner, str]] = ...) -> None: ...

class WatchEventsResponse(_message.Message):
    __slots__ = ["event"]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: Event
    def __init__(self, event: _Optional[_Union[Event, _Mapping]] = ...) -> None: ...

class PublicationStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
