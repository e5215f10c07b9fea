"""The asyncio client: Client's API with coroutines and async iterators (grpc.aio)."""

import grpc

from liger_client import _requests
from liger_client import types
from liger_client._proto import pb, pb_grpc
from liger_client.errors import from_rpc_error


class AsyncClient:
    """As liger_client.Client, for asyncio:

        async with AsyncClient("localhost:50051") as client:
            async for event in client.generate("The ship sailed", max_new_tokens=16):
                print(event.text, end="", flush=True)
    """

    def __init__(self, target, *, timeout=None, channel=None, api_key=None, credentials=None):
        if channel is None:
            channel = (grpc.aio.secure_channel(target, credentials) if credentials is not None
                       else grpc.aio.insecure_channel(target))
        self._channel = channel
        self._stub = pb_grpc.LigerServiceStub(self._channel)
        self._timeout = timeout
        self._api_key = api_key

    async def close(self):
        await self._channel.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()

    async def _call(self, method, request):
        try:
            return await method(request, timeout=self._timeout,
                                metadata=_requests.call_metadata(request, self._api_key))
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error) from None

    async def _stream(self, method, request):
        call = method(request, timeout=self._timeout, metadata=_requests.call_metadata(request, self._api_key))
        try:
            async for response in call:
                yield response
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error) from None
        finally:
            call.cancel()

    async def generate(self, prompt, **options):
        request = _requests.generate_request(prompt, **options)
        async for response in self._stream(self._stub.Generate, request):
            yield types.event_from_proto(response)

    async def complete(self, prompt, **options):
        return types.completion_from_events([e async for e in self.generate(prompt, **options)])

    async def tokenize(self, text, *, model="", add_special_tokens=None):
        request = pb.TokenizeRequest(model=model, text=text)
        if add_special_tokens is not None:
            request.add_special_tokens = add_special_tokens
        return list((await self._call(self._stub.Tokenize, request)).token_ids)

    async def create_session(self, *, model=""):
        response = await self._call(self._stub.CreateSession, pb.CreateSessionRequest(model=model))
        return types.session_from_proto(response.session)

    async def get_session(self, session_id):
        response = await self._call(self._stub.GetSession,
                                    pb.GetSessionRequest(session_id=session_id))
        return types.session_from_proto(response.session)

    async def delete_session(self, session_id):
        await self._call(self._stub.DeleteSession, pb.DeleteSessionRequest(session_id=session_id))

    async def fine_tune(self, model_dir, output_dir, train_data, **options):
        request = _requests.fine_tune_request(model_dir, output_dir, train_data, **options)
        return types.job_from_proto((await self._call(self._stub.FineTune, request)).job)

    async def watch_job(self, job_id):
        async for response in self._stream(self._stub.WatchJob, pb.WatchJobRequest(job_id=job_id)):
            yield types.job_from_proto(response.job)

    async def get_job(self, job_id):
        response = await self._call(self._stub.GetJob, pb.GetJobRequest(job_id=job_id))
        return types.job_from_proto(response.job)
