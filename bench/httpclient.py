"""A minimal HTTP/1.1 keep-alive client on asyncio streams (no third-party dependency):
one connection, one request at a time, Content-Length or chunked responses."""

import asyncio
import json
from urllib.parse import urlsplit


class HttpConnection:
    def __init__(self, base_url, token=None, timeout=30.0):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.token = token
        self.timeout = timeout
        self.reader = self.writer = None

    async def _open(self):
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def close(self):
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except Exception:
                pass
            self.writer = None

    async def request(self, method, path, body=None):
        """(status, parsed JSON or None). Reconnects once if the server closed the kept-alive connection."""
        for attempt in (0, 1):
            try:
                return await asyncio.wait_for(self._request(method, path, body), self.timeout)
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt:
                    raise

    async def _request(self, method, path, body):
        if self.writer is None:
            await self._open()
        payload = b"" if body is None else json.dumps(body).encode()
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", "Connection: keep-alive",
                f"Content-Length: {len(payload)}", "Accept: application/json"]
        if body is not None:
            head.append("Content-Type: application/json")
        if self.token:
            head.append(f"Authorization: Bearer {self.token}")
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        status_line = await self.reader.readuntil(b"\r\n")
        if not status_line:
            raise ConnectionError("closed")
        status = int(status_line.split()[1])
        headers = {}
        while True:
            line = await self.reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.decode("latin1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                data = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                chunks.append(data[:-2])
            raw = b"".join(chunks)
        else:
            raw = await self.reader.readexactly(int(headers.get("content-length", 0)))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, None
