"""Push services on loopback ports for the tests: a Web Push service, FCM and Google's token
endpoint, each a tiny HTTP server in a thread that records what it was sent and answers as told."""

import base64
import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

WAIT = 10  # seconds a test waits for a request to arrive


@dataclass
class Received:
    path: str
    headers: dict  # lower-case names
    body: bytes

    def json(self):
        return json.loads(self.body)

    def form(self):
        return {key: values[0] for key, values in parse_qs(self.body.decode()).items()}


class FakeService:
    """Answers every POST with `answer(received)` -> (status, headers, body), 201 by default;
    `hold()` keeps the answers waiting (the request is recorded first) until `release()`."""

    def __init__(self, answer=None):
        self.answer = answer or (lambda received: (201, {}, b""))
        self.received = []
        self.arrived = threading.Condition()
        self.released = threading.Event()
        self.released.set()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                received = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length))
                with service.arrived:
                    service.received.append(received)
                    service.arrived.notify_all()
                service.released.wait(WAIT)
                status, headers, body = service.answer(received)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # Polled often: stopping waits for the next poll (the default 0.5 s, per fake, per test).
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def answer_with(self, status, body=b"", headers=None):
        if isinstance(body, dict):
            body, headers = json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})}
        self.answer = lambda received: (status, headers or {}, body)

    def hold(self):
        self.released.clear()

    def release(self):
        self.released.set()

    def wait_for(self, count, timeout=WAIT):
        """The first `count` requests, once they have arrived."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"{len(self.received)} requests arrived, expected {count}"
                self.arrived.wait(left)
            return list(self.received[:count])

    def stop(self):
        self.release()
        self.server.shutdown()
        self.server.server_close()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class BrowserSubscription:
    """What a browser holds for one push subscription: its key pair and auth secret (it decrypts
    what the push service hands it), and the endpoint on the fake service."""

    def __init__(self, service, name="sub"):
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.auth_secret = os.urandom(16)
        self.endpoint = f"{service.url}/push/{name}-{b64url(os.urandom(6))}"

    def as_json(self):
        """`PushSubscription.toJSON()`."""
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"endpoint": self.endpoint, "expirationTime": None,
                "keys": {"p256dh": b64url(point), "auth": b64url(self.auth_secret)}}

    def decrypt(self, received):
        """The plaintext of a pushed message (RFC 8291, aes128gcm), as the browser would read it."""
        assert received.headers["content-encoding"] == "aes128gcm"
        return http_ece.decrypt(received.body, private_key=self.private_key, auth_secret=self.auth_secret,
                                version="aes128gcm")


def service_account(token_uri, project_id="rideshare-test"):
    """A Google service account key as its JSON file has it, with a fresh RSA key; and the key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    account = {"type": "service_account", "project_id": project_id, "private_key_id": "key-1",
               "private_key": pem, "client_email": f"push@{project_id}.iam.gserviceaccount.com",
               "token_uri": token_uri}
    return account, key.public_key()


class SlowService:
    """A push service that reads the request and then answers one byte every `every` seconds
    (`trickle`), or never (`hang`): a raw TCP server in a thread. `connected` counts connections."""

    ANSWER = b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"

    def __init__(self, mode, every=1.0):
        self.mode, self.every = mode, every
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.connected = threading.Semaphore(0)
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection):
        with connection:
            self.connected.release()
            try:
                connection.recv(65536)
                if self.mode == "trickle":
                    for byte in self.ANSWER:
                        if self.stopped.wait(self.every):
                            return
                        connection.sendall(bytes([byte]))
                self.stopped.wait()
            except OSError:
                return

    def wait_connected(self, timeout=WAIT):
        assert self.connected.acquire(timeout=timeout), f"nothing connected to the {self.mode} service"

    def stop(self):
        self.stopped.set()
        self.listener.close()
