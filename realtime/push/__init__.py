"""Push to apps whose socket is closed: the devices users register (Web Push subscriptions of
browsers and PWAs, FCM tokens of native apps), the outbox of reliable ride events for them, and
the sender that delivers it off the request path.

- `models.py`: `Device`, and `PushDelivery` (the outbox: one event for one device).
- `devices.py`: registering and removing a device (the only code that changes them).
- `outbox.py`: rows written in the transaction that logs the event (realtime.delivery.eventlog), claimed
  with row locks by senders, settled after the send (sent, device gone, retry with backoff).
- `sender.py`: one round of sending (realtime.serving.lifecycle's `push` job, or `manage.py send_push`):
  claim, leave out users with an open socket, send in threads, settle.
- `webpush.py` (pywebpush, VAPID) and `fcm.py` (FCM HTTP v1 with an OAuth2 token minted from a
  service account): one send each, answering what became of it.
"""
