"""The OpenAI-compatible HTTP endpoint of `liger serve --http-port 0`, driven by an OpenAI-style
server-sent-events client written on Python's standard library: streamed and whole completions and
chat completions, sessions through X-Liger-Session, error bodies, the demo page, and a client that
goes away mid-stream."""

import http.client
import json
import tempfile
import time
import unittest

from liger_serve import start_liger_serve

MAX_REQUEST_BYTES = 65536


class OpenAiHttpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.log = tempfile.TemporaryFile(mode="w+")
        cls.process, address = start_liger_serve(
            ["--http-port", "0", "--max-request-bytes", str(MAX_REQUEST_BYTES)], "http on ", cls.log)
        host, port = address.rsplit(":", 1)
        cls.host, cls.port = host, int(port)

    @classmethod
    def tearDownClass(cls):
        cls.process.terminate()
        cls.process.wait(timeout=60)
        cls.process.stdout.close()
        cls.log.close()

    def request(self, method, path, body=None, headers=None):
        connection = http.client.HTTPConnection(self.host, self.port, timeout=300)
        payload = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
        connection.request(method, path, body=payload,
                           headers={"Content-Type": "application/json", **(headers or {})})
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response.status, dict(response.getheaders()), json.loads(data) if data else None

    def stream(self, path, body, headers=None):
        """POSTs with "stream": true and returns the events' data, in order, as they arrived."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=300)
        connection.request("POST", path, body=json.dumps({**body, "stream": True}),
                           headers={"Content-Type": "application/json", **(headers or {})})
        response = connection.getresponse()
        self.assertEqual(response.status, 200)
        self.assertTrue(response.getheader("Content-Type").startswith("text/event-stream"))
        events, data = [], []
        for raw in response:
            line = raw.decode("utf-8").rstrip("\r\n")
            if line.startswith("data: "):
                data.append(line[len("data: "):])
            elif line == "" and data:
                events.append("\n".join(data))
                data = []
        connection.close()
        return events

    def test_streamed_completion_is_sse_ending_in_done_with_usage(self):
        body = {"prompt": "The ship sailed", "max_tokens": 8, "temperature": 0}
        events = self.stream("/v1/completions", body)
        self.assertEqual(events[-1], "[DONE]")
        chunks = [json.loads(e) for e in events[:-1]]
        texts = [c["choices"][0]["text"] for c in chunks if c["choices"][0]["finish_reason"] is None]
        self.assertGreaterEqual(len(texts), 2)  # token by token, not one block
        final = chunks[-1]
        self.assertEqual(final["object"], "text_completion")
        self.assertEqual(final["choices"][0]["finish_reason"], "length")
        self.assertEqual(final["usage"]["completion_tokens"], 8)
        self.assertEqual(final["usage"]["total_tokens"],
                         final["usage"]["prompt_tokens"] + final["usage"]["completion_tokens"])
        self.assertEqual(len({c["id"] for c in chunks}), 1)
        status, _, whole = self.request("POST", "/v1/completions", body)
        self.assertEqual(status, 200)
        self.assertEqual(whole["choices"][0]["text"], "".join(texts))
        self.assertEqual(whole["usage"], final["usage"])

    def test_chat_completions_stream_and_whole(self):
        body = {"messages": [{"role": "system", "content": "You are terse."},
                             {"role": "user", "content": "Call me Ishmael."}],
                "max_tokens": 6, "temperature": 0}
        events = self.stream("/v1/chat/completions", body)
        self.assertEqual(events[-1], "[DONE]")
        chunks = [json.loads(e) for e in events[:-1]]
        self.assertTrue(all(c["object"] == "chat.completion.chunk" for c in chunks))
        streamed = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
        status, _, whole = self.request("POST", "/v1/chat/completions", body)
        self.assertEqual(status, 200)
        self.assertEqual(whole["object"], "chat.completion")
        self.assertEqual(whole["choices"][0]["message"]["role"], "assistant")
        self.assertEqual(whole["choices"][0]["message"]["content"], streamed)

    def test_session_header_continues_a_session(self):
        status, _, session = self.request("POST", "/v1/sessions")
        self.assertEqual(status, 200)
        headers = {"X-Liger-Session": session["id"]}
        body = {"prompt": "Call me Ishmael.", "max_tokens": 4, "temperature": 0}
        status, reply_headers, first = self.request("POST", "/v1/completions", body, headers)
        self.assertEqual(status, 200)
        self.assertEqual(reply_headers.get("X-Liger-Session"), session["id"])
        _, _, after_first = self.request("GET", f"/v1/sessions/{session['id']}")
        self.assertEqual(after_first["tokens"], first["usage"]["total_tokens"])
        events = self.stream("/v1/completions", {**body, "prompt": " Some years ago"}, headers)
        usage = json.loads(events[-2])["usage"]
        _, _, after_second = self.request("GET", f"/v1/sessions/{session['id']}")
        # Only the new turn was fed: the state grew by its prompt and output alone.
        self.assertEqual(after_second["tokens"], after_first["tokens"] + usage["total_tokens"])
        status, _, _ = self.request("DELETE", f"/v1/sessions/{session['id']}")
        self.assertEqual(status, 200)
        status, _, error = self.request("GET", f"/v1/sessions/{session['id']}")
        self.assertEqual(status, 404)
        self.assertEqual(error["error"]["code"], "NOT_FOUND")

    def test_errors_have_http_statuses_and_openai_bodies(self):
        cases = [
            ("/v1/completions", "{not json", 400, "INVALID_ARGUMENT"),
            ("/v1/completions", {"prompt": "hi", "model": "no-such-model"}, 404, "NOT_FOUND"),
            ("/v1/completions", {"prompt": "hi", "n": 2}, 400, "INVALID_ARGUMENT"),
            ("/v1/completions", {"prompt": "hi", "temperature": "hot"}, 400, "INVALID_ARGUMENT"),
            ("/v1/chat/completions", {"messages": []}, 400, "INVALID_ARGUMENT"),
        ]
        for path, body, http_status, code in cases:
            with self.subTest(body=body):
                status, _, error = self.request("POST", path, body)
                self.assertEqual(status, http_status)
                self.assertEqual(error["error"]["code"], code)
                self.assertTrue(error["error"]["message"])
        status, _, error = self.request("POST", "/v1/completions", {"prompt": "hi"},
                                        {"X-Liger-Session": "0" * 32})
        self.assertEqual((status, error["error"]["code"]), (404, "NOT_FOUND"))
        # Over the server's limits (--max-new-tokens' default, --max-request-bytes).
        status, _, error = self.request("POST", "/v1/completions",
                                        {"prompt": "hi", "max_tokens": 16385})
        self.assertEqual((status, error["error"]["code"]), (400, "INVALID_ARGUMENT"))
        status, _, error = self.request("POST", "/v1/completions",
                                        {"prompt": "x" * MAX_REQUEST_BYTES})
        self.assertEqual((status, error["error"]["code"]), (413, "RESOURCE_EXHAUSTED"))
        status, _, error = self.request("GET", "/v1/no-such-endpoint")
        self.assertEqual((status, error["error"]["code"]), (404, "NOT_FOUND"))

    def test_models_and_demo_page(self):
        status, _, models = self.request("GET", "/v1/models")
        self.assertEqual(status, 200)
        self.assertEqual(len(models["data"]), 1)
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        connection.request("GET", "/")
        response = connection.getresponse()
        page = response.read().decode()
        connection.close()
        self.assertEqual(response.status, 200)
        self.assertIn("/v1/completions", page)

    def test_a_client_that_leaves_mid_stream_frees_its_session(self):
        _, _, session = self.request("POST", "/v1/sessions")
        headers = {"Content-Type": "application/json", "X-Liger-Session": session["id"]}
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        connection.request("POST", "/v1/completions", headers=headers, body=json.dumps(
            {"prompt": "The ship sailed", "max_tokens": 16384, "temperature": 0, "stream": True}))
        response = connection.getresponse()
        self.assertTrue(response.readline().startswith(b"data: "))
        connection.close()  # gone, with the generation far from its end
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            _, _, info = self.request("GET", f"/v1/sessions/{session['id']}")
            status, _, _ = self.request("POST", "/v1/completions",
                                        {"prompt": "x", "max_tokens": 1},
                                        {"X-Liger-Session": session["id"]})
            if status == 200:
                break
            time.sleep(0.2)
        self.assertEqual(status, 200, "the session stayed busy after its client left")
        self.assertLess(info["tokens"], 16384)


if __name__ == "__main__":
    unittest.main()
