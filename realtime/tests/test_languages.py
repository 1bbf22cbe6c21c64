"""The socket's `error` messages in French or English: `?lang=fr|en` on the connect URL, else the
handshake's Accept-Language, else English. Codes never change."""

import pytest
from channels.testing import WebsocketCommunicator

from rideshare.asgi import application
from rideshare.tests.factories import DriverFactory, UserFactory, access_token_for

from .helpers import RECEIVE_TIMEOUT, WS_PATH, db, receive, receive_type, send

pytestmark = pytest.mark.django_db(transaction=True)

UNKNOWN_TYPE = {
    "en": "Unknown message type 'teleport'.",
    "fr": "Type de message inconnu\u00a0: 'teleport'.",
}
NOT_A_DRIVER = {
    "en": "This action needs a driver account.",
    "fr": "Cette action nécessite un compte chauffeur.",
}


async def connected(user, *, query="", accept_language=None):
    token = await db(access_token_for)(user)
    headers = [(b"accept-language", accept_language.encode())] if accept_language is not None else []
    comm = WebsocketCommunicator(application, f"{WS_PATH}?token={token}{query}", headers=headers)
    assert (await comm.connect(timeout=RECEIVE_TIMEOUT))[0]
    await receive_type(comm, "connected")
    return comm


async def error_for(comm, message):
    await send(comm, message)
    reply = await receive_type(comm, "error")
    return reply["data"]


@pytest.mark.parametrize("language, query, accept_language", [
    ("en", "", None),  # nothing asked: English, as always
    ("fr", "&lang=fr", None),
    ("fr", "", "fr-CM,fr;q=0.9,en;q=0.8"),
    ("en", "&lang=en", "fr"),  # the parameter wins over the header
    ("fr", "&lang=fr", "en-US"),
    ("en", "&lang=de", "fr"),  # a language the server does not speak: English
    ("en", "", "de-DE,es;q=0.5"),
    ("fr", "", "de-DE,fr;q=0.5"),  # the first one it speaks
])
async def test_errors_come_in_the_connections_language_with_the_same_codes(language, query, accept_language):
    passenger = await db(UserFactory)()
    comm = await connected(passenger, query=query, accept_language=accept_language)

    unknown = await error_for(comm, {"type": "teleport"})
    assert (unknown["code"], unknown["message"]) == ("unknown_type", UNKNOWN_TYPE[language])
    not_driver = await error_for(comm, {"type": "driver_online"})
    assert (not_driver["code"], not_driver["message"]) == ("not_a_driver", NOT_A_DRIVER[language])
    assert not_driver["request_type"] == "driver_online"
    await comm.disconnect()


async def test_field_errors_are_worded_in_the_connections_language_too():
    driver = await db(DriverFactory)()
    english = await connected(driver.user)
    french = await connected(driver.user, query="&lang=fr")
    position = {"type": "location_update", "latitude": 95, "longitude": 11.5}

    in_english = await error_for(english, position)
    in_french = await error_for(french, position)

    assert in_english["code"] == in_french["code"] == "validation_error"
    assert in_english["message"] == "latitude: Ensure this value is less than or equal to 90."
    assert in_french["message"] == "latitude: Assurez-vous que cette valeur est inférieure ou égale à 90."
    assert list(in_english["errors"]) == list(in_french["errors"]) == ["latitude"]
    for comm in (english, french):
        await comm.disconnect()


async def test_each_connection_keeps_its_own_language():
    passenger = await db(UserFactory)()
    french = await connected(passenger, accept_language="fr")
    english = await connected(passenger)

    assert (await error_for(french, {"type": "teleport"}))["message"] == UNKNOWN_TYPE["fr"]
    assert (await error_for(english, {"type": "teleport"}))["message"] == UNKNOWN_TYPE["en"]
    assert (await error_for(french, {"type": "teleport"}))["message"] == UNKNOWN_TYPE["fr"]
    for comm in (french, english):
        await comm.disconnect()


async def test_frame_errors_are_translated_before_any_type_is_known():
    passenger = await db(UserFactory)()
    comm = await connected(passenger, query="&lang=fr")

    await comm.send_to(text_data="{not json")
    reply = await receive(comm)
    assert reply["data"] == {"code": "invalid_json", "message": "Le message n'est pas du JSON valide."}
    await comm.disconnect()
