"""An HTTPS server on 127.0.0.1 for the fake clouds of the key-command tests.

The test hands over an http.server.BaseHTTPRequestHandler subclass; this module makes a throw-away
self-signed certificate for 127.0.0.1 (and "localhost") in the test's directory, serves the handler
on a free loopback port in a thread, and tells the test where the certificate is, so the binary
under test can trust it with --ca-file exactly as it trusts the system store otherwise. No request
ever leaves the machine.

    server = serve_https(MyHandler, tmp_path)
    ... run `cloudless keys … --ca-file server.ca_file --cloud-base server.url` ...
    server.close()
"""

import datetime
import http.server
import ipaddress
import os
import ssl
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def make_certificate(directory, common_name="cloudless test cloud"):
    """Writes cert.pem and key.pem for 127.0.0.1/localhost into `directory`; returns both paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = os.path.join(str(directory), "cert.pem")
    key_path = os.path.join(str(directory), "key.pem")
    with open(cert_path, "wb") as f:
        f.write(certificate.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cert_path, key_path


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that gives up mid-handshake (a timeout test) is expected, not a test failure.
        pass


class HttpsServer:
    def __init__(self, handler_class, directory, host="127.0.0.1"):
        self.ca_file, key_file = make_certificate(directory)
        self._server = _QuietServer((host, 0), handler_class)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.ca_file, key_file)
        # The handshake happens in the handler's thread (on its first read), so a client that connects
        # and stays silent holds up only itself, not the accept loop.
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True,
                                                  do_handshake_on_connect=False)
        self.host = host
        self.port = self._server.server_address[1]
        self.url = f"https://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        daemon=True)
        self._thread.start()

    def close(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def serve_https(handler_class, directory, host="127.0.0.1"):
    """Starts serving at once; the caller closes it (or uses it as a context manager)."""
    return HttpsServer(handler_class, directory, host)
