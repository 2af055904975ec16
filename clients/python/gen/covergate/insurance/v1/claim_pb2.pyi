from buf.validate import validate_pb2 as _validate_pb2
from covergate.insurance.v1 import auth_pb2 as _auth_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

CLAIM_STATUS_APPROVED: ClaimStatus
CLAIM_STATUS_CREATED: ClaimStatus
CLAIM_STATUS_PENDING: ClaimStatus
CLAIM_STATUS_REJECTED: ClaimStatus
CLAIM_STATUS_REPORTED: ClaimStatus
CLAIM_STATUS_REVIEWED: ClaimStatus
CLAIM_STATUS_UNSPECIFIED: ClaimStatus
DESCRIPTOR: _descriptor.FileDescriptor

class Claim(_message.Message):
    __slots__ = ["claim_id", "create_time", "customer_id", "document_keys", "etag", "partner_claim_id", "partner_claim_number", "policy_id", "reason", "status", "status_time", "update_time"]
    CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_KEYS_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    PARTNER_CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    PARTNER_CLAIM_NUMBER_FIELD_NUMBER: _ClassVar[int]
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    claim_id: str
    create_time: _timestamp_pb2.Timestamp
    customer_id: str
    document_keys: _containers.RepeatedScalarFieldContainer[str]
    etag: str
    partner_claim_id: str
    partner_claim_number: str
    policy_id: str
    reason: str
    status: ClaimStatus
    status_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, claim_id: _Optional[str] = ..., policy_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., status: _Optional[_Union[ClaimStatus, str]] = ..., reason: _Optional[str] = ..., document_keys: _Optional[_Iterable[str]] = ..., partner_claim_id: _Optional[str] = ..., status_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., partner_claim_number: _Optional[str] = ...) -> None: ...

class ClaimDocument(_message.Message):
    __slots__ = ["content_type", "create_time", "document_key", "file_name", "sha256", "size_bytes"]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_KEY_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    content_type: str
    create_time: _timestamp_pb2.Timestamp
    document_key: str
    file_name: str
    sha256: str
    size_bytes: int
    def __init__(self, document_key: _Optional[str] = ..., file_name: _Optional[str] = ..., content_type: _Optional[str] = ..., size_bytes: _Optional[int] = ..., sha256: _Optional[str] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ClaimDocumentUpload(_message.Message):
    __slots__ = ["content", "content_type", "file_name"]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    content: bytes
    content_type: str
    file_name: str
    def __init__(self, file_name: _Optional[str] = ..., content_type: _Optional[str] = ..., content: _Optional[bytes] = ...) -> None: ...

class CreateClaimRequest(_message.Message):
    __slots__ = ["claimant_email", "document_keys", "policy_id", "reason"]
    CLAIMANT_EMAIL_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_KEYS_FIELD_NUMBER: _ClassVar[int]
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    claimant_email: str
    document_keys: _containers.RepeatedScalarFieldContainer[str]
    policy_id: str
    reason: str
    def __init__(self, policy_id: _Optional[str] = ..., reason: _Optional[str] = ..., claimant_email: _Optional[str] = ..., document_keys: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateClaimResponse(_message.Message):
    __slots__ = ["claim"]
    CLAIM_FIELD_NUMBER: _ClassVar[int]
    claim: Claim
    def __init__(self, claim: _Optional[_Union[Claim, _Mapping]] = ...) -> None: ...

class GetClaimPortalLinkRequest(_message.Message):
    __slots__ = ["claim_id", "owner_signature"]
    CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    claim_id: str
    owner_signature: str
    def __init__(self, claim_id: _Optional[str] = ..., owner_signature: _Optional[str] = ...) -> None: ...

class GetClaimPortalLinkResponse(_message.Message):
    __slots__ = ["signer_wallet_address", "uri"]
    SIGNER_WALLET_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    signer_wallet_address: str
    uri: str
    def __init__(self, uri: _Optional[str] = ..., signer_wallet_address: _Optional[str] = ...) -> None: ...

class GetClaimRequest(_message.Message):
    __slots__ = ["claim_id"]
    CLAIM_ID_FIELD_NUMBER: _ClassVar[int]
    claim_id: str
    def __init__(self, claim_id: _Optional[str] = ...) -> None: ...

class GetClaimResponse(_message.Message):
    __slots__ = ["claim"]
    CLAIM_FIELD_NUMBER: _ClassVar[int]
    claim: Claim
    def __init__(self, claim: _Optional[_Union[Claim, _Mapping]] = ...) -> None: ...

class ListClaimsRequest(_message.Message):
    __slots__ = ["customer_id", "page_size", "page_token", "policy_id", "status"]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    page_size: int
    page_token: str
    policy_id: str
    status: ClaimStatus
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., policy_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., status: _Optional[_Union[ClaimStatus, str]] = ...) -> None: ...

class ListClaimsResponse(_message.Message):
    __slots__ = ["claims", "next_page_token"]
    CLAIMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    claims: _containers.RepeatedCompositeFieldContainer[Claim]
    next_page_token: str
    def __init__(self, claims: _Optional[_Iterable[_Union[Claim, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UploadClaimDocumentsRequest(_message.Message):
    __slots__ = ["documents", "policy_id"]
    DOCUMENTS_FIELD_NUMBER: _ClassVar[int]
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    documents: _containers.RepeatedCompositeFieldContainer[ClaimDocumentUpload]
    policy_id: str
    def __init__(self, policy_id: _Optional[str] = ..., documents: _Optional[_Iterable[_Union[ClaimDocumentUpload, _Mapping]]] = ...) -> None: ...

class UploadClaimDocumentsResponse(_message.Message):
    __slots__ = ["documents"]
    DOCUMENTS_FIELD_NUMBER: _ClassVar[int]
    documents: _containers.RepeatedCompositeFieldContainer[ClaimDocument]
    def __init__(self, documents: _Optional[_Iterable[_Union[ClaimDocument, _Mapping]]] = ...) -> None: ...

class ClaimStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
