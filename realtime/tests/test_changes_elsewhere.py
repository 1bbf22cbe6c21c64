"""Changes made by another process (a management command, `manage.py shell`) whose sends never
reach this process's sockets (the embedded in-process layer): the presence job closes the sockets
of accounts deactivated or deleted meanwhile, and the handshake cache forgets them."""

import pytest

from drivers.known_users import KnownUsers, known
from realtime import signals
from realtime.presence import presence
from rideshare.accounts.models import User
from rideshare.tests.factories import UserFactory

from .helpers import counted, db, expect_close, open_socket, receive

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sends_never_arrive(monkeypatch):
    """As in another process: the change commits, its on-commit sends reach nobody here, and it
    forgets the user in its own handshake cache, not in this one."""
    monkeypatch.setattr(signals.dispatch, "soon", lambda *args, **kwargs: None)
    monkeypatch.setattr(signals, "known", KnownUsers())
    # The embedded default, whatever this run's layer: with Redis the change itself would arrive.
    monkeypatch.setattr(signals.dispatch, "layer_is_process_local", lambda: True)


def deactivate_elsewhere(user_id):
    user = User.objects.get(pk=user_id)
    user.is_active = False
    user.save()


def delete_elsewhere(user_id):
    User.objects.get(pk=user_id).delete()


@pytest.mark.parametrize("how, reason", [("deactivated", "account_disabled"), ("deleted", "account_deleted")])
async def test_the_presence_job_closes_the_sockets_of_accounts_removed_elsewhere(sends_never_arrive, how, reason):
    user = await db(UserFactory)()
    comm = await open_socket(user)
    await db(deactivate_elsewhere if how == "deactivated" else delete_elsewhere)(user.pk)
    assert await comm.receive_nothing(timeout=0.2)  # nothing reached the socket

    assert known.get(user.pk) is not None  # the handshake cached it; nothing told this process
    gone = await presence.heartbeat()  # as realtime.serving.lifecycle runs it

    assert gone[user.pk] == reason
    assert known.get(user.pk) is None
    message = await receive(comm)
    assert message["type"] == "error" and message["data"]["code"] == reason
    await expect_close(comm, 4003)
    await comm.disconnect()
    assert await db(counted)(user) == 0


def test_the_account_check_reports_deleted_and_inactive_users_in_chunks(settings, monkeypatch):
    monkeypatch.setattr(presence, "ACCOUNT_CHECK_BATCH", 2)
    kept, deleted, disabled = UserFactory(), UserFactory(), UserFactory()
    deleted_id = deleted.pk
    deleted.delete()
    User.objects.filter(pk=disabled.pk).update(is_active=False)
    gone = presence.accounts_gone([kept.pk, deleted_id, disabled.pk])
    assert gone == {deleted_id: "account_deleted", disabled.pk: "account_disabled"}
