"""The service's exceptions. Every layer raises these; api/errors.py alone puts them on the wire."""

from __future__ import annotations


class ServiceError(Exception):
    """Base of every error the API reports to a client.

    ``code`` is the AWS error code (the ``__type`` on the wire). ``status`` is the HTTP status
    for the JSON 1.1 control plane (always 400 there, as AWS does); ``rest_status`` is the
    status the rest-json services (events, runtime) use for the same code.
    """

    code = "InternalFailure"
    status = 500
    rest_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(ServiceError):
    code = "InvalidInputException"
    status = 400
    rest_status = 400


class ValidationError(InvalidInput):
    """A request violates its shape's constraints (length, pattern, range, enum, type)."""


class ResourceNotFound(ServiceError):
    code = "ResourceNotFoundException"
    status = 400
    rest_status = 404


class AccessDenied(ServiceError):
    """A resource of another account (AWS's IAM refuses it; Personalize has no resource policies)."""

    code = "AccessDeniedException"
    status = 400
    rest_status = 403


class ResourceAlreadyExists(ServiceError):
    code = "ResourceAlreadyExistsException"
    status = 400
    rest_status = 400


class ResourceInUse(ServiceError):
    code = "ResourceInUseException"
    status = 400
    rest_status = 409


class LimitExceeded(ServiceError):
    code = "LimitExceededException"
    status = 400
    rest_status = 400


class InvalidNextToken(ServiceError):
    code = "InvalidNextTokenException"
    status = 400
    rest_status = 400


class TooManyTags(ServiceError):
    code = "TooManyTagsException"
    status = 400
    rest_status = 400


class TooManyTagKeys(ServiceError):
    code = "TooManyTagKeysException"
    status = 400
    rest_status = 400


class RequestTooLarge(ServiceError):
    """A request body over the service's size limit, refused before it is read in full."""

    code = "RequestEntityTooLargeException"
    status = 413
    rest_status = 413


class UnknownOperation(ServiceError):
    code = "UnknownOperationException"
    status = 400
    rest_status = 400


class NotImplementedYet(ServiceError):
    """A modelled operation this server does not implement yet (see IMPLEMENTATION_COVERAGE.md)."""

    code = "NotImplementedException"
    status = 400
    rest_status = 400


class SerializationError(ServiceError):
    code = "SerializationException"
    status = 400
    rest_status = 400


class DataError(Exception):
    """Bad data found while running a job (import, export...). Its message is the failureReason."""
