"""Plain Python views of the service's messages, so callers never handle protobuf objects."""

import dataclasses
import datetime
from typing import List, Optional

from liger_client._proto import pb


@dataclasses.dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    generated_tokens: int
    context_tokens: int


@dataclasses.dataclass(frozen=True)
class TokenLogprob:
    token_id: int
    logprob: float


@dataclasses.dataclass(frozen=True)
class GenerationEvent:
    """One streamed message: a token (None when the last message carries none), and on the last
    message the finish reason ("length", "stop", "eos", "cancelled") and usage."""

    token_id: Optional[int]
    text: str
    logprob: Optional[float] = None
    top_logprobs: List[TokenLogprob] = dataclasses.field(default_factory=list)
    finish_reason: Optional[str] = None
    usage: Optional[Usage] = None


@dataclasses.dataclass(frozen=True)
class Completion:
    """A whole generation: the text, the token ids, why it ended and the token counts."""

    text: str
    token_ids: List[int]
    finish_reason: str
    usage: Usage


@dataclasses.dataclass(frozen=True)
class Session:
    session_id: str
    model: str
    tokens: int
    state_bytes: int
    busy: bool
    created_at: Optional[datetime.datetime]
    last_used_at: Optional[datetime.datetime]


@dataclasses.dataclass(frozen=True)
class JobProgress:
    step: int
    total_steps: int
    epoch: int
    loss: float
    learning_rate: float
    tokens_per_second: float
    eval_perplexity: Optional[float]


@dataclasses.dataclass(frozen=True)
class Job:
    """A fine-tuning job; `state` is "queued", "running", "succeeded", "failed" or "cancelled"."""

    job_id: str
    state: str
    output_dir: str
    progress: JobProgress
    error_message: str

    @property
    def done(self):
        return self.state in ("succeeded", "failed", "cancelled")


@dataclasses.dataclass(frozen=True)
class ConvertResult:
    output_dir: str
    tensors_copied: int
    files_written: int
    bytes_written: int


_FINISH = {
    pb.FINISH_REASON_LENGTH: "length",
    pb.FINISH_REASON_STOP: "stop",
    pb.FINISH_REASON_EOS: "eos",
    pb.FINISH_REASON_CANCELLED: "cancelled",
}

_JOB_STATES = {
    pb.JOB_STATE_QUEUED: "queued",
    pb.JOB_STATE_RUNNING: "running",
    pb.JOB_STATE_SUCCEEDED: "succeeded",
    pb.JOB_STATE_FAILED: "failed",
    pb.JOB_STATE_CANCELLED: "cancelled",
}


def _time(message, field):
    if not message.HasField(field):
        return None
    return getattr(message, field).ToDatetime(tzinfo=datetime.timezone.utc)


def event_from_proto(response):
    token = response.token if response.HasField("token") else None
    usage = None
    if response.HasField("usage"):
        u = response.usage
        usage = Usage(u.prompt_tokens, u.generated_tokens, u.context_tokens)
    return GenerationEvent(
        token_id=token.token_id if token is not None else None,
        text=token.text_delta if token is not None else "",
        logprob=token.logprob if token is not None and token.HasField("logprob") else None,
        top_logprobs=[TokenLogprob(t.token_id, t.logprob) for t in token.top_logprobs]
        if token is not None else [],
        finish_reason=_FINISH.get(response.finish_reason),
        usage=usage)


def session_from_proto(s):
    return Session(s.session_id, s.model, s.tokens, s.state_bytes, s.busy,
                   _time(s, "created_at"), _time(s, "last_used_at"))


def job_from_proto(j):
    p = j.progress
    progress = JobProgress(p.step, p.total_steps, p.epoch, p.loss, p.learning_rate,
                           p.tokens_per_second,
                           p.eval_perplexity if p.HasField("eval_perplexity") else None)
    return Job(j.job_id, _JOB_STATES.get(j.state, "unspecified"), j.request.output_dir, progress,
               j.error_message)


def completion_from_events(events):
    """Folds a generation's events into a Completion."""
    text, ids, finish, usage = [], [], None, None
    for event in events:
        if event.token_id is not None:
            ids.append(event.token_id)
            text.append(event.text)
        finish = event.finish_reason or finish
        usage = event.usage or usage
    return Completion("".join(text), ids, finish, usage)
