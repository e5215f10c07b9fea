"""Typed errors: each gRPC status code the service uses becomes its own exception class."""

import grpc


class LigerError(Exception):
    """A failed call. `code` is the grpc.StatusCode, `message` the server's explanation."""

    code = grpc.StatusCode.UNKNOWN

    def __init__(self, message, code=None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self):
        return f"{self.code.name}: {self.message}"


class InvalidArgumentError(LigerError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFoundError(LigerError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExistsError(LigerError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPreconditionError(LigerError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class ResourceExhaustedError(LigerError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class UnavailableError(LigerError):
    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceededError(LigerError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class CancelledError(LigerError):
    code = grpc.StatusCode.CANCELLED


class PermissionDeniedError(LigerError):
    code = grpc.StatusCode.PERMISSION_DENIED


class UnauthenticatedError(LigerError):
    code = grpc.StatusCode.UNAUTHENTICATED


class InternalError(LigerError):
    code = grpc.StatusCode.INTERNAL


class DataLossError(LigerError):
    """Damaged or truncated data, such as a corrupted session export."""

    code = grpc.StatusCode.DATA_LOSS


_BY_CODE = {cls.code: cls for cls in (
    InvalidArgumentError, NotFoundError, AlreadyExistsError, FailedPreconditionError,
    ResourceExhaustedError, UnavailableError, DeadlineExceededError, CancelledError,
    PermissionDeniedError, UnauthenticatedError, InternalError, DataLossError)}


def from_rpc_error(error):
    """The LigerError subclass for a grpc.RpcError (or grpc.aio.AioRpcError)."""
    code = error.code()
    cls = _BY_CODE.get(code, LigerError)
    return cls(error.details() or code.name, code)
