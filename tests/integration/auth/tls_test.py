"""TLS and mutual TLS on a real `liger serve --tls-cert --tls-key [--tls-client-ca]`, with
certificates made by the openssl command for the test: the gRPC and HTTP ports serve clients that
trust the CA (and, with a client CA, present a certificate it signed), and refuse plaintext clients,
clients without a certificate and clients whose certificate another CA signed. The CLI connects
through LIGER_TLS_CA, LIGER_TLS_CERT and LIGER_TLS_KEY."""

import http.client
import os
import pathlib
import ssl
import subprocess
import tempfile
import unittest

import grpc

from liger_client import Client
from liger_client import errors
from liger_serve import start_liger_serve, stop_liger_serve

CALL_TIMEOUT_SECONDS = 60
REFUSED_TIMEOUT_SECONDS = 10


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(directory, name):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
            f"{name}.pem", "-days", "2", "-subj", f"/CN={name}", cwd=directory)


def make_certificate(directory, name, ca, extensions):
    """A key and a certificate `name`.pem signed by CA `ca`, with the given v3 extensions."""
    pathlib.Path(directory, f"{name}.ext").write_text(extensions + "\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", f"/CN={name}", cwd=directory)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
            cwd=directory)


class Certificates:
    """A CA, the server's certificate (for 127.0.0.1 and localhost), a client certificate from the
    same CA and one from a stranger CA."""

    def __init__(self, directory):
        self.dir = pathlib.Path(directory)
        make_ca(directory, "ca")
        make_ca(directory, "stranger-ca")
        make_certificate(directory, "server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost")
        make_certificate(directory, "client", "ca", "extendedKeyUsage=clientAuth")
        make_certificate(directory, "stranger", "stranger-ca", "extendedKeyUsage=clientAuth")

    def path(self, name):
        return str(self.dir / name)

    def read(self, name):
        return (self.dir / name).read_bytes()

    def grpc_credentials(self, client=None):
        if client is None:
            return grpc.ssl_channel_credentials(root_certificates=self.read("ca.pem"))
        return grpc.ssl_channel_credentials(root_certificates=self.read("ca.pem"),
                                            private_key=self.read(f"{client}.key"),
                                            certificate_chain=self.read(f"{client}.pem"))

    def https_context(self, client=None):
        context = ssl.create_default_context(cafile=self.path("ca.pem"))
        if client is not None:
            context.load_cert_chain(self.path(f"{client}.pem"), self.path(f"{client}.key"))
        return context


class TlsServer:
    def __init__(self, certificates, log_path, mutual):
        self._log = open(log_path, "w")
        args = ["--http-port", "0", "--tls-cert", certificates.path("server.pem"),
                "--tls-key", certificates.path("server.key")]
        if mutual:
            args += ["--tls-client-ca", certificates.path("ca.pem")]
        self.process, (self.address, http_address) = start_liger_serve(
            args, ("listening on ", "http on "), self._log)
        host, port = http_address.rsplit(":", 1)
        self.http_host, self.http_port = host, int(port)

    def https_get(self, path, context):
        connection = http.client.HTTPSConnection(self.http_host, self.http_port, timeout=60,
                                                 context=context)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()

    def stop(self):
        stop_liger_serve(self.process)
        self._log.close()


class MutualTlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="liger-tls-")
        cls.certificates = Certificates(cls.dir.name)
        cls.server = TlsServer(cls.certificates, os.path.join(cls.dir.name, "serve.log"), mutual=True)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.dir.cleanup()

    def test_a_client_with_a_certificate_from_the_ca_is_served(self):
        with Client(self.server.address, timeout=CALL_TIMEOUT_SECONDS,
                    credentials=self.certificates.grpc_credentials("client")) as client:
            self.assertTrue(client.list_models())
            self.assertTrue(client.complete("The sea", max_new_tokens=2).token_ids)
        self.assertEqual(self.server.https_get("/v1/models",
                                               self.certificates.https_context("client")), 200)

    def test_clients_without_a_trusted_certificate_are_refused(self):
        for credentials in (None, self.certificates.grpc_credentials(),
                            self.certificates.grpc_credentials("stranger")):
            with Client(self.server.address, timeout=REFUSED_TIMEOUT_SECONDS,
                        credentials=credentials) as client:
                with self.assertRaises(errors.LigerError):
                    client.list_models()
        for context in (self.certificates.https_context(),
                        self.certificates.https_context("stranger")):
            with self.assertRaises((OSError, http.client.HTTPException)):
                self.server.https_get("/v1/models", context)
        plain = http.client.HTTPConnection(self.server.http_host, self.server.http_port, timeout=10)
        with self.assertRaises((OSError, http.client.HTTPException)):
            plain.request("GET", "/v1/models")
            plain.getresponse().read()
        plain.close()

    def test_the_cli_connects_through_the_tls_environment(self):
        def health(**env):
            return subprocess.run(
                [os.environ["LIGER_BINARY"], "health", "--server", self.server.address,
                 "--timeout-seconds", "10"], env={**os.environ, **env}, capture_output=True,
                text=True)
        ok = health(LIGER_TLS_CA=self.certificates.path("ca.pem"),
                    LIGER_TLS_CERT=self.certificates.path("client.pem"),
                    LIGER_TLS_KEY=self.certificates.path("client.key"))
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertIn("SERVING", ok.stdout)
        refused = health(LIGER_TLS_CA=self.certificates.path("ca.pem"))
        self.assertNotEqual(refused.returncode, 0)


class ServerTlsTest(unittest.TestCase):
    def test_without_a_client_ca_any_client_that_trusts_the_server_is_served(self):
        with tempfile.TemporaryDirectory(prefix="liger-tls-server-") as directory:
            certificates = Certificates(directory)
            server = TlsServer(certificates, os.path.join(directory, "serve.log"), mutual=False)
            try:
                with Client(server.address, timeout=CALL_TIMEOUT_SECONDS,
                            credentials=certificates.grpc_credentials()) as client:
                    self.assertTrue(client.list_models())
                self.assertEqual(server.https_get("/v1/models", certificates.https_context()), 200)
                with Client(server.address, timeout=REFUSED_TIMEOUT_SECONDS) as plaintext:
                    with self.assertRaises(errors.LigerError):
                        plaintext.list_models()
            finally:
                server.stop()


if __name__ == "__main__":
    unittest.main()
