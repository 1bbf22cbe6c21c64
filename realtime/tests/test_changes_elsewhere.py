"""Changes made by another process (a management command, `manage.py shell`) whose sends never
reach this process's sockets (the embedded in-process layer): the presence job closes the sockets
of accounts deactivated or deleted meanwhile, and never recreates rows for a deleted user."""

import pytest
from django.db import transaction

from realtime import presence, signals
from realtime.models import Connection
from rideshare.accounts.models import User
from rideshare.tests.factories import UserFactory

from .helpers import db, expect_close, open_socket, receive

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sends_never_arrive(monkeypatch):
    """As in another process: the change commits, its on-commit sends reach nobody here."""
    monkeypatch.setattr(signals.dispatch, "soon", lambda *args, **kwargs: None)


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

    gone = await presence.refresh_now()  # the heartbeat, as realtime.lifecycle runs it

    assert gone[user.pk] == reason
    message = await receive(comm)
    assert message["type"] == "error" and message["data"]["code"] == reason
    await expect_close(comm, 4003)
    await comm.disconnect()
    assert not await db(Connection.objects.filter(user_id=user.pk).exists)()


def test_refresh_never_recreates_the_row_of_a_deleted_user():
    """A deleted user's row went with the user (cascade); the socket is still in this process's
    snapshot: recreating its row broke the foreign key on every heartbeat."""
    kept, deleted = UserFactory(), UserFactory()
    snapshot = {"chan.kept": (kept.pk, False), "chan.deleted": (deleted.pk, False)}
    deleted_id = deleted.pk
    presence.write_row("chan.deleted", deleted_id, False)
    deleted.delete()
    with transaction.atomic():
        gone = presence.refresh(snapshot)
    assert gone == {deleted_id: "account_deleted"}
    assert set(Connection.objects.values_list("channel_name", flat=True)) == {"chan.kept"}
    with transaction.atomic():
        assert presence.refresh(snapshot) == {deleted_id: "account_deleted"}  # every round, never failing


def test_refresh_reports_inactive_users_whether_or_not_their_row_exists():
    with_row, without_row = UserFactory(), UserFactory()
    presence.write_row("chan.a", with_row.pk, False)
    User.objects.filter(pk__in=[with_row.pk, without_row.pk]).update(is_active=False)
    gone = presence.refresh({"chan.a": (with_row.pk, False), "chan.b": (without_row.pk, False)})
    assert gone == {with_row.pk: "account_disabled", without_row.pk: "account_disabled"}
    assert not Connection.objects.filter(channel_name="chan.b").exists()
