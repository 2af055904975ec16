from buf.validate import validate_pb2 as _validate_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AvataCallbackBody(_message.Message):
    __slots__ = ["details", "policy_uuid", "reference", "status", "uuid"]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    POLICY_UUID_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    UUID_FIELD_NUMBER: _ClassVar[int]
    details: AvataCallbackDetails
    policy_uuid: str
    reference: str
    status: str
    uuid: str
    def __init__(self, status: _Optional[str] = ..., uuid: _Optional[str] = ..., reference: _Optional[str] = ..., policy_uuid: _Optional[str] = ..., details: _Optional[_Union[AvataCallbackDetails, _Mapping]] = ...) -> None: ...

class AvataCallbackDetails(_message.Message):
    __slots__ = ["claim_id", "end_date_time", "policy_id", "policy_type", "start_date_time"]
    CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    END_DATE_TIME_FIELD_NUMBER: _ClassVar[int]
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    POLICY_TYPE_FIELD_NUMBER: _ClassVar[int]
    START_DATE_TIME_FIELD_NUMBER: _ClassVar[int]
    claim_id: str
    end_date_time: str
    policy_id: str
    policy_type: str
    start_date_time: str
    def __init__(self, policy_id: _Optional[str] = ..., policy_type: _Optional[str] = ..., start_date_time: _Optional[str] = ..., end_date_time: _Optional[str] = ..., claim_id: _Optional[str] = ...) -> None: ...

class HandleCallbackRequest(_message.Message):
    __slots__ = ["body", "event_type"]
    BODY_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    body: AvataCallbackBody
    event_type: str
    def __init__(self, event_type: _Optional[str] = ..., body: _Optional[_Union[AvataCallbackBody, _Mapping]] = ...) -> None: ...

class HandleCallbackResponse(_message.Message):
    __slots__ = ["delivery_id", "status"]
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    delivery_id: str
    status: str
    def __init__(self, status: _Optional[str] = ..., delivery_id: _Optional[str] = ...) -> None: ...
