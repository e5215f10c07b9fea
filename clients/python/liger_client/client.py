"""The synchronous client."""

import grpc

from liger_client import _requests
from liger_client import types
from liger_client._proto import pb, pb_grpc
from liger_client.errors import from_rpc_error


class Client:
    """A connection to a liger server. Every method raises a liger_client.errors.LigerError
    subclass for a failed call; `timeout` (seconds) bounds each call, None for none; `api_key`
    is sent with every call (as `authorization: Bearer <key>`) to a server that requires one;
    `credentials` (grpc.ssl_channel_credentials(...)) connect over TLS.

        with Client("localhost:50051") as client:
            for event in client.generate("The ship sailed", max_new_tokens=16):
                print(event.text, end="", flush=True)
    """

    def __init__(self, target, *, timeout=None, channel=None, api_key=None, credentials=None):
        if channel is None:
            channel = (grpc.secure_channel(target, credentials) if credentials is not None
                       else grpc.insecure_channel(target))
        self._channel = channel
        self._stub = pb_grpc.LigerServiceStub(self._channel)
        self._timeout = timeout
        self._api_key = api_key

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _call(self, method, request):
        try:
            return method(request, timeout=self._timeout,
                          metadata=_requests.call_metadata(request, self._api_key))
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    def _stream(self, method, request):
        call = method(request, timeout=self._timeout, metadata=_requests.call_metadata(request, self._api_key))
        try:
            yield from call
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None
        finally:
            call.cancel()  # a no-op once the stream ended; stops the server when abandoned

    # Generation ----------------------------------------------------------------------------------

    def generate(self, prompt, **options):
        """Streams GenerationEvents as the server samples tokens. `prompt` is text or token ids;
        the options are those of GenerateRequest (session_id, max_new_tokens, temperature, top_p,
        stop, ...). Breaking out of the loop cancels the generation."""
        request = _requests.generate_request(prompt, **options)
        for response in self._stream(self._stub.Generate, request):
            yield types.event_from_proto(response)

    def complete(self, prompt, **options):
        """generate() to the end, as one Completion."""
        return types.completion_from_events(self.generate(prompt, **options))

    def tokenize(self, text, *, model="", add_special_tokens=None):
        request = pb.TokenizeRequest(model=model, text=text)
        if add_special_tokens is not None:
            request.add_special_tokens = add_special_tokens
        return list(self._call(self._stub.Tokenize, request).token_ids)

    def detokenize(self, token_ids, *, model="", skip_special_tokens=False):
        request = pb.DetokenizeRequest(model=model, token_ids=list(token_ids),
                                       skip_special_tokens=skip_special_tokens)
        return self._call(self._stub.Detokenize, request).text

    def load_model(self, model_dir, *, name="", device=""):
        """Loads a checkpoint directory on the server; returns the name it is served under. With
        API keys the model is the caller's tenant's alone."""
        request = pb.LoadModelRequest(model_dir=model_dir, name=name, device=device)
        return self._call(self._stub.LoadModel, request).model.name

    def unload_model(self, name):
        self._call(self._stub.UnloadModel, pb.UnloadModelRequest(name=name))

    def list_models(self):
        return [m.name for m in self._call(self._stub.ListModels, pb.ListModelsRequest()).models]

    # Sessions ------------------------------------------------------------------------------------

    def create_session(self, *, model=""):
        response = self._call(self._stub.CreateSession, pb.CreateSessionRequest(model=model))
        return types.session_from_proto(response.session)

    def get_session(self, session_id):
        response = self._call(self._stub.GetSession, pb.GetSessionRequest(session_id=session_id))
        return types.session_from_proto(response.session)

    def fork_session(self, session_id):
        response = self._call(self._stub.ForkSession, pb.ForkSessionRequest(session_id=session_id))
        return types.session_from_proto(response.session)

    def delete_session(self, session_id):
        self._call(self._stub.DeleteSession, pb.DeleteSessionRequest(session_id=session_id))

    def export_session(self, session_id):
        """The session as bytes (versioned, checksummed, tied to its model) for import_session on
        another server or for storage; the session stays on this one."""
        request = pb.ExportSessionRequest(session_id=session_id)
        return b"".join(r.chunk for r in self._stream(self._stub.ExportSession, request))

    def import_session(self, data, *, chunk_bytes=1 << 20):
        """Makes the session export_session returned on this server, under the same id."""
        chunks = (pb.ImportSessionRequest(chunk=data[i:i + chunk_bytes])
                  for i in range(0, max(len(data), 1), chunk_bytes))
        return types.session_from_proto(self._call(self._stub.ImportSession, chunks).session)

    def list_sessions(self, *, model=""):
        response = self._call(self._stub.ListSessions, pb.ListSessionsRequest(model=model))
        return [types.session_from_proto(s) for s in response.sessions]

    # Conversion and fine-tuning ------------------------------------------------------------------

    def convert(self, model_dir, output_dir, **options):
        """Converts a checkpoint on the server into a Liger model; returns its ConvertResult once
        written. Options: variant ("gla", "hgrn2", "gsa"), window, mix, softmax_layers, load_as."""
        request = _requests.convert_request(model_dir, output_dir, **options)
        result = None
        for response in self._stream(self._stub.Convert, request):
            if response.HasField("result"):
                r = response.result
                result = types.ConvertResult(r.output_dir, r.tensors_copied, r.files_written,
                                             r.bytes_written)
        return result

    def fine_tune(self, model_dir, output_dir, train_data, **options):
        """Starts a LoRA fine-tuning job on the server; returns the Job (usually "queued")."""
        request = _requests.fine_tune_request(model_dir, output_dir, train_data, **options)
        return types.job_from_proto(self._call(self._stub.FineTune, request).job)

    def watch_job(self, job_id):
        """Streams a Job snapshot after every change, until the job ends."""
        for response in self._stream(self._stub.WatchJob, pb.WatchJobRequest(job_id=job_id)):
            yield types.job_from_proto(response.job)

    def get_job(self, job_id):
        return types.job_from_proto(self._call(self._stub.GetJob,
                                               pb.GetJobRequest(job_id=job_id)).job)

    def list_jobs(self):
        return [types.job_from_proto(j)
                for j in self._call(self._stub.ListJobs, pb.ListJobsRequest()).jobs]

    def cancel_job(self, job_id):
        return types.job_from_proto(self._call(self._stub.CancelJob,
                                               pb.CancelJobRequest(job_id=job_id)).job)
