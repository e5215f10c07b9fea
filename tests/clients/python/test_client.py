"""liger_client (sync and asyncio) against a real `liger serve` on port 0 with the embedded model:
streaming a generation, continuing a session, watching a fine-tune job, typed error codes."""

import asyncio
import json
import math
import os
import pathlib
import tempfile
import unittest

import grpc

import liger_client
from liger_client import AsyncClient, Client
from liger_serve import start_liger_serve, stop_liger_serve

MODEL = os.environ["LIGER_MODEL"]
CALL_TIMEOUT_SECONDS = 300


class Server:
    """`liger serve` on port 0, keeping fine-tuning jobs in `jobs_dir`."""

    def __init__(self, jobs_dir, log_path):
        self._log = open(log_path, "w")
        self.process, self.address = start_liger_serve(["--jobs-dir", jobs_dir], "listening on ",
                                                       self._log)

    def stop(self):
        stop_liger_serve(self.process)
        self._log.close()


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="liger-python-client-")
        root = pathlib.Path(cls.dir.name)
        cls.root = root
        cls.server = Server(str(root / "jobs"), str(root / "serve.log"))
        cls.client = Client(cls.server.address, timeout=CALL_TIMEOUT_SECONDS)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.server.stop()
        cls.dir.cleanup()

    def test_streams_a_generation_token_by_token(self):
        events = list(self.client.generate("The ship sailed", max_new_tokens=8, ignore_eos=True))
        self.assertEqual(len(events), 8)  # one message per token, the last one closing the call
        self.assertTrue(all(e.token_id is not None for e in events))
        self.assertTrue(all(e.finish_reason is None for e in events[:-1]))
        self.assertEqual(events[-1].finish_reason, "length")
        self.assertEqual(events[-1].usage.generated_tokens, 8)
        # Greedy decoding is deterministic: the whole-completion helper sees the same tokens.
        completion = self.client.complete("The ship sailed", max_new_tokens=8, ignore_eos=True)
        self.assertEqual(completion.token_ids, [e.token_id for e in events])
        self.assertEqual(completion.text, "".join(e.text for e in events))
        self.assertEqual(self.client.detokenize(completion.token_ids), completion.text)

    def test_continues_a_session(self):
        session = self.client.create_session()
        first = self.client.complete("Call me Ishmael.", session_id=session.session_id,
                                     max_new_tokens=4, ignore_eos=True)
        after_first = self.client.get_session(session.session_id)
        self.assertEqual(after_first.tokens, first.usage.prompt_tokens + 4)
        second = self.client.complete(" Some years ago", session_id=session.session_id,
                                      max_new_tokens=4, ignore_eos=True)
        # The second turn reuses the state: only its new tokens are prefilled.
        self.assertEqual(second.usage.context_tokens, after_first.tokens)
        self.assertEqual(self.client.get_session(session.session_id).tokens,
                         after_first.tokens + second.usage.prompt_tokens + 4)
        self.assertIn(session.session_id, [s.session_id for s in self.client.list_sessions()])
        self.client.delete_session(session.session_id)
        with self.assertRaises(liger_client.NotFoundError):
            self.client.get_session(session.session_id)

    def test_surfaces_error_codes(self):
        with self.assertRaises(liger_client.NotFoundError) as missing:
            self.client.complete("hello", model="no-such-model")
        self.assertEqual(missing.exception.code, grpc.StatusCode.NOT_FOUND)
        self.assertIn("no-such-model", missing.exception.message)
        with self.assertRaises(liger_client.InvalidArgumentError):
            self.client.complete("hello", max_new_tokens=-1)
        with self.assertRaises(liger_client.NotFoundError):
            list(self.client.watch_job("no-such-job"))
        unreachable = Client("127.0.0.1:1", timeout=5)
        with self.assertRaises(liger_client.UnavailableError):
            unreachable.list_models()
        unreachable.close()

    def test_watches_a_fine_tune_job_to_its_end(self):
        converted = self.client.convert(MODEL, str(self.root / "tiny-gla"), variant="gla")
        self.assertEqual(converted.output_dir, str(self.root / "tiny-gla"))
        train = self.root / "train.jsonl"
        with open(train, "w") as f:
            for text in ("Call me Ishmael. Some years ago, never mind how long precisely, having "
                         "little or no money in my purse, I thought I would sail about a little.",
                         "It is a way I have of driving off the spleen and regulating the "
                         "circulation, whenever I find myself growing grim about the mouth."):
                f.write(json.dumps({"text": text}) + "\n")
        job = self.client.fine_tune(str(self.root / "tiny-gla"), str(self.root / "tuned"),
                                    str(train), max_steps=2, sequence_length=32,
                                    gradient_accumulation_steps=1, seed=3)
        self.assertIn(job.state, ("queued", "running"))
        snapshots = list(self.client.watch_job(job.job_id))
        last = snapshots[-1]
        self.assertEqual(last.state, "succeeded", last.error_message)
        self.assertEqual((last.progress.step, last.progress.total_steps), (2, 2))
        trained = [s for s in snapshots if s.progress.step >= 1]
        self.assertTrue(trained and all(math.isfinite(s.progress.loss) for s in trained))
        self.assertTrue((self.root / "tuned" / "config.json").exists())
        self.assertEqual(self.client.get_job(job.job_id).state, "succeeded")
        self.assertIn(job.job_id, [j.job_id for j in self.client.list_jobs()])

    def test_asyncio_client_streams_continues_and_reports_errors(self):
        async def scenario():
            async with AsyncClient(self.server.address, timeout=CALL_TIMEOUT_SECONDS) as client:
                events = [e async for e in client.generate("The ship sailed", max_new_tokens=5,
                                                           ignore_eos=True)]
                session = await client.create_session()
                first = await client.complete("Call me", session_id=session.session_id,
                                              max_new_tokens=3, ignore_eos=True)
                second = await client.complete(" Ishmael", session_id=session.session_id,
                                               max_new_tokens=3, ignore_eos=True)
                await client.delete_session(session.session_id)
                try:
                    await client.get_session(session.session_id)
                    error = None
                except liger_client.LigerError as e:
                    error = e
                return events, first, second, error

        events, first, second, error = asyncio.run(scenario())
        self.assertEqual(len(events), 5)
        self.assertEqual(events[-1].finish_reason, "length")
        expected = self.client.complete("The ship sailed", max_new_tokens=5, ignore_eos=True)
        self.assertEqual([e.token_id for e in events], expected.token_ids)
        self.assertEqual(second.usage.context_tokens, first.usage.prompt_tokens + 3)
        self.assertIsInstance(error, liger_client.NotFoundError)


class CallMetadataTest(unittest.TestCase):
    """Calls naming a session carry its id as metadata, for load balancers that hash on it; a
    client with an API key sends it as a bearer token on every call."""

    def test_session_calls_carry_the_id(self):
        from liger_client import _requests
        from liger_client._proto import pb
        self.assertEqual(_requests.call_metadata(pb.GetSessionRequest(session_id="abc")),
                         (("x-liger-session", "abc"),))
        request = _requests.generate_request("hi", session_id="abc")
        self.assertEqual(_requests.call_metadata(request), (("x-liger-session", "abc"),))
        self.assertIsNone(_requests.call_metadata(_requests.generate_request("hi")))
        self.assertIsNone(_requests.call_metadata(pb.ListModelsRequest()))

    def test_an_api_key_goes_with_every_call(self):
        from liger_client import _requests
        from liger_client._proto import pb
        self.assertEqual(_requests.call_metadata(pb.ListModelsRequest(), "k"),
                         (("authorization", "Bearer k"),))
        self.assertEqual(_requests.call_metadata(pb.GetSessionRequest(session_id="abc"), "k"),
                         (("authorization", "Bearer k"), ("x-liger-session", "abc")))


if __name__ == "__main__":
    unittest.main()
