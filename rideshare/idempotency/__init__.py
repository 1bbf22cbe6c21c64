"""Idempotent REST writes: a state-changing POST sent with an `Idempotency-Key` header is done once;
its retries get the first answer again (`decorators.idempotent`, keys kept in `models.IdempotencyKey`
for IDEMPOTENCY_KEY_TTL_SECONDS, `store.purge_expired`)."""
