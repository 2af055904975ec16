from buf.validate import validate_pb2 as _validate_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HandleEventRequest(_message.Message):
    __slots__ = ["attributes", "correlation_id", "event_type", "id", "payload_version", "timestamp", "type"]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_VERSION_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    attributes: _struct_pb2.Struct
    correlation_id: str
    event_type: str
    id: str
    payload_version: str
    timestamp: str
    type: str
    def __init__(self, id: _Optional[str] = ..., type: _Optional[str] = ..., timestamp: _Optional[str] = ..., attributes: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., event_type: _Optional[str] = ..., payload_version: _Optional[str] = ..., correlation_id: _Optional[str] = ...) -> None: ...

class HandleEventResponse(_message.Message):
    __slots__ = ["delivery_id", "status"]
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    delivery_id: str
    status: str
    def __init__(self, status: _Optional[str] = ..., delivery_id: _Optional[str] = ...) -> None: ...
