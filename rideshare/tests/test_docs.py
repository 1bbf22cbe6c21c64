"""The API docs pages (Swagger UI, ReDoc) load nothing from another host: their scripts, styles and
icon are the project's own static files (drf-spectacular-sidecar), and the ASGI application that
`make run` serves answers them (Django's static files handler, with DEBUG on)."""

import json
import re

import pytest
from asgiref.testing import ApplicationCommunicator

from rideshare.asgi import application

PAGES = ["/api/docs/", "/api/redoc/"]
# What a browser would fetch: src= and href= attributes, and any absolute URL written anywhere.
REFERENCES = re.compile(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", re.I)
ABSOLUTE_URL = re.compile(r"""(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}""", re.I)


async def get(path):
    """(status, body) of a GET through the ASGI application. Not channels' HttpCommunicator: a
    file response ends with a body-less message, which the ASGI spec allows and it refuses."""
    path, _, query = path.partition("?")
    scope = {"type": "http", "http_version": "1.1", "method": "GET", "scheme": "http", "path": path,
             "raw_path": path.encode(), "query_string": query.encode(), "headers": [(b"host", b"testserver")],
             "client": ("127.0.0.1", 50000), "server": ("testserver", 80)}
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(10)
    body = b""
    while True:
        message = await communicator.receive_output(10)
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    await communicator.wait(10)
    return start["status"], body


def references(html):
    return REFERENCES.findall(html)


@pytest.mark.parametrize("page", PAGES)
async def test_the_docs_page_references_only_its_own_static_files(page):
    status, body = await get(page)
    html = body.decode()
    assert status == 200
    assert ABSOLUTE_URL.findall(html) == [], f"{page} loads from another host"
    found = references(html)
    assert found, f"{page} references no script or style"
    for url in found:
        assert url.startswith("/") and not url.startswith("//"), url


@pytest.mark.parametrize("page", PAGES)
async def test_every_file_the_page_references_is_served_by_the_asgi_application(page):
    _, body = await get(page)
    for url in references(body.decode()):
        status, content = await get(url)
        assert status == 200, url
        assert content, url


async def test_swagger_ui_and_redoc_are_the_sidecar_builds():
    _, swagger = await get("/api/docs/")
    _, redoc = await get("/api/redoc/")
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in swagger.decode()
    assert "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js" in redoc.decode()


async def test_the_swagger_page_links_the_other_docs():
    """The description of the OpenAPI document links ReDoc and the WebSocket protocol page."""
    status, body = await get("/api/schema/?format=json")
    assert status == 200
    description = json.loads(body)["info"]["description"]
    for url in ("/api/redoc/", "/api/docs/websocket/", "/api/v1/ws/asyncapi.json"):
        assert f"]({url})" in description
