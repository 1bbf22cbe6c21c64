"""/api/docs/websocket/: the AsyncAPI document as a page, complete and self-contained; and the
document's examples and audiences it is made from."""

import html
import json
import re

import jsonschema
import pytest
from django.test import Client

from realtime.protocol import asyncapi, wire

PAGE = "/api/docs/websocket/"


@pytest.fixture(scope="module")
def page(django_db_blocker):
    with django_db_blocker.unblock():
        response = Client().get(PAGE)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    return response.content.decode()


def test_every_client_message_and_server_event_has_its_section(page):
    for name in wire.CLIENT_MESSAGES:
        assert f'<section id="client-{name}">' in page, name
    for name in wire.SERVER_EVENTS:
        assert f'<section id="event-{name}">' in page, name


def test_each_event_says_who_receives_it_with_its_summary_example_and_schema(page):
    for name, event in wire.SERVER_EVENTS.items():
        section = page.split(f'<section id="event-{name}">', 1)[1].split("</section>", 1)[0]
        assert html.escape(event.summary) in section, name
        assert f"<strong>To:</strong> {html.escape(event.audience)}" in section, name
        example, schema = (json.loads(html.unescape(block)) for block in re.findall(r"<pre>(.*?)</pre>", section, re.S))
        assert example["type"] == name
        assert schema == asyncapi.server_event_schema(name)


def test_the_connect_url_query_parameters_and_close_codes_are_shown(page):
    assert "ws://testserver/api/v1/ws/connect?token=ACCESS_TOKEN" in page
    for parameter in ("token", "last_event_id"):
        assert f"<td><code>{parameter}</code></td>" in page
    for code in asyncapi.CLOSE_CODES:
        assert f"<td><code>{code}</code></td>" in page


def test_the_page_loads_nothing_and_links_only_this_server(page):
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", page, re.I), "a URL to another host"
    for url in re.findall(r'href="([^"]*)"', page):
        assert url.startswith(("/", "#")) and not url.startswith("//"), url


def test_the_docs_link_to_the_page(page):
    swagger_description = Client().get("/api/schema/?format=json").json()["info"]["description"]
    assert f"]({PAGE})" in swagger_description


# --- the document it is made from ---------------------------------------------------------------


def test_every_example_in_the_document_matches_its_schema():
    document = asyncapi.document()
    for message in document["components"]["messages"].values():
        schema = document["components"]["schemas"][message["payload"]["$ref"].rsplit("/", 1)[-1]]
        (example,) = message["examples"]
        jsonschema.Draft202012Validator(schema).validate(example["payload"])


def test_every_server_event_says_who_receives_it():
    messages = asyncapi.document()["components"]["messages"]
    for name, event in wire.SERVER_EVENTS.items():
        assert event.audience.strip(), name
        assert messages[name]["x-audience"] == event.audience
        assert event.audience in messages[name]["description"]
