"""Python client for the liger model-serving service (gRPC, liger.v1)."""

from liger_client.aio import AsyncClient
from liger_client.client import Client
from liger_client.errors import (AlreadyExistsError, CancelledError, DataLossError,
                                 DeadlineExceededError, FailedPreconditionError, InternalError,
                                 InvalidArgumentError,
                                 LigerError, NotFoundError, PermissionDeniedError,
                                 ResourceExhaustedError, UnauthenticatedError, UnavailableError)
from liger_client.types import (Completion, ConvertResult, GenerationEvent, Job, JobProgress,
                                Session, TokenLogprob, Usage)

__all__ = [
    "AsyncClient", "Client", "Completion", "ConvertResult", "GenerationEvent", "Job",
    "JobProgress", "Session", "TokenLogprob", "Usage", "LigerError", "AlreadyExistsError",
    "CancelledError", "DataLossError", "DeadlineExceededError", "FailedPreconditionError", "InternalError",
    "InvalidArgumentError", "NotFoundError", "PermissionDeniedError", "ResourceExhaustedError",
    "UnauthenticatedError", "UnavailableError",
]
