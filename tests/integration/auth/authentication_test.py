"""API keys and tenants on a real `liger serve --api-keys-file`: calls without a valid key are
UNAUTHENTICATED (gRPC) or 401 (HTTP) while health stays open; one tenant's sessions and the models
it loads do not exist for another (NOT_FOUND, as for an id never made); each tenant's session
limit; the per-key request rate (RESOURCE_EXHAUSTED, HTTP 429); keys rotate by rewriting the file,
without a restart."""

import http.client
import json
import os
import pathlib
import tempfile
import time
import unittest

import grpc

from liger_client import Client
from liger_client import errors
from liger_serve import start_liger_serve, stop_liger_serve

ALPHA_KEY = "alpha-key-0123456789abcdef"
BETA_KEY = "beta-key-fedcba9876543210"
GAMMA_KEY = "gamma-key-00112233445566778899"
DELTA_KEY = "delta-key-99887766554433221100"
SESSION_LIMIT = 2
CALL_TIMEOUT_SECONDS = 300


def write_keys(path, pairs):
    text = "# tenant key\n" + "".join(f"{tenant} {key}\n" for tenant, key in pairs)
    pathlib.Path(path).write_text(text)


class Server:
    """`liger serve` with API keys from `keys_file`, gRPC and HTTP on port 0."""

    def __init__(self, keys_file, log_path, extra_args=()):
        self._log = open(log_path, "w")
        self.process, (self.grpc_address, http_address) = start_liger_serve(
            ["--http-port", "0", "--api-keys-file", keys_file,
             "--max-sessions-per-tenant", str(SESSION_LIMIT), *extra_args],
            ("listening on ", "http on "), self._log)
        host, port = http_address.rsplit(":", 1)
        self.http_host, self.http_port = host, int(port)

    def client(self, api_key=None):
        return Client(self.grpc_address, timeout=CALL_TIMEOUT_SECONDS, api_key=api_key)

    def http(self, method, path, api_key=None, body=None, headers=None):
        connection = http.client.HTTPConnection(self.http_host, self.http_port, timeout=300)
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if api_key is not None:
            all_headers["Authorization"] = f"Bearer {api_key}"
        connection.request(method, path, body=None if body is None else json.dumps(body),
                           headers=all_headers)
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response.status, dict(response.getheaders()), json.loads(data) if data else None

    def health(self):
        """grpc.health.v1 Check without any key: the serialized response's status field."""
        with grpc.insecure_channel(self.grpc_address) as channel:
            check = channel.unary_unary("/grpc.health.v1.Health/Check")
            return check(b"", timeout=CALL_TIMEOUT_SECONDS)

    def stop(self):
        stop_liger_serve(self.process)
        self._log.close()


class AuthenticationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="liger-auth-")
        cls.keys = str(pathlib.Path(cls.dir.name) / "keys")
        write_keys(cls.keys, [("alpha", ALPHA_KEY), ("beta", BETA_KEY), ("gamma", GAMMA_KEY)])
        cls.server = Server(cls.keys, str(pathlib.Path(cls.dir.name) / "serve.log"))
        cls.alpha = cls.server.client(ALPHA_KEY)
        cls.beta = cls.server.client(BETA_KEY)

    @classmethod
    def tearDownClass(cls):
        cls.alpha.close()
        cls.beta.close()
        cls.server.stop()
        cls.dir.cleanup()

    def test_grpc_calls_need_a_valid_key_and_health_stays_open(self):
        for key in (None, "", "wrong-key-0123456789abcdef", ALPHA_KEY[:-1], ALPHA_KEY + "x"):
            with self.server.client(key) as client:
                with self.assertRaises(errors.UnauthenticatedError, msg=repr(key)):
                    client.list_models()
                with self.assertRaises(errors.UnauthenticatedError, msg=repr(key)):
                    client.create_session()
                with self.assertRaises(errors.UnauthenticatedError, msg=repr(key)):
                    client.complete("The ship", max_new_tokens=2)
        self.assertEqual(self.server.health(), b"\x08\x01")  # SERVING
        self.assertTrue(self.alpha.list_models())

    def test_a_tenant_cannot_touch_another_tenants_session(self):
        session = self.alpha.create_session()
        done = self.alpha.complete("The whale", session_id=session.session_id, max_new_tokens=3)
        for call in (lambda: self.beta.get_session(session.session_id),
                     lambda: self.beta.fork_session(session.session_id),
                     lambda: self.beta.delete_session(session.session_id),
                     lambda: self.beta.complete(" and", session_id=session.session_id, max_new_tokens=2)):
            with self.assertRaises(errors.NotFoundError):
                call()
        # The same answer as for an id that was never made.
        with self.assertRaises(errors.NotFoundError):
            self.beta.get_session("never-made")
        self.assertNotIn(session.session_id, [s.session_id for s in self.beta.list_sessions()])
        # Nothing happened to it: its tenant still sees every token it sent.
        self.assertEqual(self.alpha.get_session(session.session_id).tokens,
                         done.usage.prompt_tokens + done.usage.generated_tokens)
        self.assertIn(session.session_id, [s.session_id for s in self.alpha.list_sessions()])
        self.alpha.delete_session(session.session_id)

    def test_a_model_a_tenant_loads_exists_for_that_tenant_only(self):
        shared = self.alpha.list_models()  # the server's own, which every tenant sees
        self.assertEqual(self.beta.list_models(), shared)
        self.assertEqual(self.alpha.load_model(os.environ["LIGER_MODEL"], name="alpha-own"),
                         "alpha-own")
        try:
            self.assertEqual(sorted(self.alpha.list_models()), sorted(shared + ["alpha-own"]))
            self.assertEqual(self.beta.list_models(), shared)
            for call in (lambda: self.beta.complete("The", model="alpha-own", max_new_tokens=2),
                         lambda: self.beta.create_session(model="alpha-own"),
                         lambda: self.beta.tokenize("The", model="alpha-own"),
                         lambda: self.beta.unload_model("alpha-own")):
                with self.assertRaises(errors.NotFoundError):
                    call()
            status, _, body = self.server.http("GET", "/v1/models", BETA_KEY)
            self.assertEqual([m["id"] for m in body["data"]], shared)
            status, _, _ = self.server.http("POST", "/v1/completions", BETA_KEY,
                                            {"model": "alpha-own", "prompt": "The",
                                             "max_tokens": 2})
            self.assertEqual(status, 404)
            self.assertTrue(self.alpha.complete("The", model="alpha-own",
                                                max_new_tokens=2).token_ids)
            # A tenant may not take the shared model away from the others.
            with self.assertRaises(errors.PermissionDeniedError):
                self.beta.unload_model(shared[0])
        finally:
            self.alpha.unload_model("alpha-own")
        self.assertEqual(self.alpha.list_models(), shared)

    def test_each_tenant_holds_at_most_its_session_limit(self):
        with self.server.client(GAMMA_KEY) as gamma:
            made = [gamma.create_session() for _ in range(SESSION_LIMIT)]
            with self.assertRaises(errors.ResourceExhaustedError):
                gamma.create_session()
            with self.assertRaises(errors.ResourceExhaustedError):
                gamma.fork_session(made[0].session_id)
            extra = self.beta.create_session()  # another tenant is not held back
            gamma.delete_session(made[0].session_id)
            made[0] = gamma.create_session()
            for session in made:
                gamma.delete_session(session.session_id)
            self.beta.delete_session(extra.session_id)

    def test_http_needs_a_valid_key_and_keeps_tenants_apart(self):
        for key in (None, "wrong-key-0123456789abcdef"):
            status, headers, body = self.server.http("GET", "/v1/models", key)
            self.assertEqual(status, 401)
            self.assertEqual(headers.get("WWW-Authenticate"), "Bearer")
            self.assertIn("error", body)
        status, _, body = self.server.http("GET", "/v1/models", ALPHA_KEY)
        self.assertEqual(status, 200)
        model = body["data"][0]["id"]
        status, _, session = self.server.http("POST", "/v1/sessions", ALPHA_KEY, {"model": model})
        self.assertEqual(status, 200)
        path = f"/v1/sessions/{session['id']}"
        self.assertEqual(self.server.http("GET", path, BETA_KEY)[0], 404)
        self.assertEqual(self.server.http("DELETE", path, BETA_KEY)[0], 404)
        status, _, _ = self.server.http(
            "POST", "/v1/completions", BETA_KEY, {"model": model, "prompt": "The", "max_tokens": 2},
            headers={"X-Liger-Session": session["id"]})
        self.assertEqual(status, 404)
        self.assertEqual(self.server.http("GET", path, ALPHA_KEY)[0], 200)
        # The gRPC and HTTP fronts share the tenant's sessions.
        self.assertEqual(self.alpha.get_session(session["id"]).session_id, session["id"])
        self.assertEqual(self.server.http("DELETE", path, ALPHA_KEY)[0], 200)


class RateLimitTest(unittest.TestCase):
    def test_each_key_is_held_to_its_request_rate(self):
        with tempfile.TemporaryDirectory(prefix="liger-auth-rate-") as directory:
            keys = str(pathlib.Path(directory) / "keys")
            write_keys(keys, [("alpha", ALPHA_KEY), ("beta", BETA_KEY)])
            server = Server(keys, str(pathlib.Path(directory) / "serve.log"),
                            ["--max-requests-per-second-per-key", "0.5"])  # a burst of 1
            try:
                with server.client(ALPHA_KEY) as alpha, server.client(BETA_KEY) as beta:
                    self.assertTrue(alpha.list_models())
                    with self.assertRaises(errors.ResourceExhaustedError):
                        alpha.list_models()
                    status, _, body = server.http("GET", "/v1/models", ALPHA_KEY)
                    self.assertEqual(status, 429)
                    self.assertIn("per second", body["error"]["message"])
                    self.assertTrue(beta.list_models())  # another key has its own allowance
                    time.sleep(2.1)
                    self.assertTrue(alpha.list_models())
            finally:
                server.stop()


class KeyRotationTest(unittest.TestCase):
    def test_rewriting_the_key_file_revokes_and_adds_keys_without_a_restart(self):
        with tempfile.TemporaryDirectory(prefix="liger-auth-rotate-") as directory:
            keys = str(pathlib.Path(directory) / "keys")
            write_keys(keys, [("alpha", ALPHA_KEY), ("beta", BETA_KEY)])
            server = Server(keys, str(pathlib.Path(directory) / "serve.log"))
            try:
                with server.client(BETA_KEY) as beta, server.client(DELTA_KEY) as delta:
                    self.assertTrue(beta.list_models())
                    write_keys(keys, [("alpha", ALPHA_KEY), ("delta", DELTA_KEY)])
                    deadline = time.monotonic() + 30
                    while True:  # the server rereads the file within about a second
                        try:
                            delta.list_models()
                            break
                        except errors.UnauthenticatedError:
                            if time.monotonic() > deadline:
                                raise
                            time.sleep(0.2)
                    with self.assertRaises(errors.UnauthenticatedError):
                        beta.list_models()
                    # A broken file keeps the keys in force.
                    pathlib.Path(keys).write_text("delta\n")
                    time.sleep(1.5)
                    self.assertTrue(delta.list_models())
            finally:
                server.stop()


if __name__ == "__main__":
    unittest.main()
