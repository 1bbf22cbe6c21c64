"""A small JSON-over-HTTP client for the project's own tools (simulate_ride, the live tests)."""

import json
from urllib import error as urlerror
from urllib import request as urlrequest


def http_json(method, url, body=None, token=None, timeout=10):
    """(status, decoded JSON body) for any HTTP answer; URLError/OSError when nothing answers."""
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urlrequest.Request(url, data=data, method=method, headers=headers)
    try:
        with urlrequest.urlopen(req, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urlerror.HTTPError as exc:
        payload = exc.read()
        try:
            return exc.code, json.loads(payload)
        except ValueError:
            return exc.code, {"detail": payload.decode(errors="replace")[:200]}
