"""Create, list and revoke API keys (docs/protocol.md §3): plain functions on typed models."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from keys.dal.key_store import AccessKeyTaken, KeySetContention, KeyStore
from keys.dal.secrets import KDF, SecretDeriver
from keys.models import ACCESS_KEY_RE, ACTIVE, CreatedKey, KeyItem
from shared.callers import Caller
from shared.config import RuntimeConfig
from shared.errors import Conflict, NotFound, ServiceError, ValidationError

if TYPE_CHECKING:
    from keys.bodies import CreateKeyRequest

_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_ATTEMPTS = 5


def new_access_key() -> str:
    return "VSAK" + "".join(secrets.choice(_BASE32) for _ in range(16))


def new_salt() -> str:
    return secrets.token_urlsafe(16)


def check_expiry(expires_at: datetime, now: datetime, max_lifetime_days: int) -> None:
    if expires_at <= now:
        raise ValidationError("Field 'expires_at': must be in the future.")
    if expires_at > now + timedelta(days=max_lifetime_days):
        raise ValidationError(f"Field 'expires_at': must be at most {max_lifetime_days} days ahead.")


def create_key(
    store: KeyStore,
    deriver: SecretDeriver,
    caller: Caller,
    request: CreateKeyRequest,
    config: RuntimeConfig,
    now: datetime,
) -> CreatedKey:
    """Everything is validated before the first write; the secret is derived, never stored."""
    expires_at = request.expiry()
    check_expiry(expires_at, now, config.key_max_lifetime_days)
    key = _draw_key(deriver, caller, request.label, now, expires_at)
    for _ in range(_ATTEMPTS):
        keyset = store.get_keyset(caller.customer_id)
        live = keyset.live(now)
        if len(live) >= config.max_active_keys:
            raise Conflict(f"You already have {config.max_active_keys} active keys; revoke one first.")
        try:
            store.insert_key(key.key, keyset, {**live, key.key.access_key: int(expires_at.timestamp())}, now)
            return key
        except KeySetContention:
            continue
        except AccessKeyTaken:
            key = _draw_key(deriver, caller, request.label, now, expires_at)
    raise ServiceError("Too many concurrent changes to your keys; retry.")


def _draw_key(
    deriver: SecretDeriver, caller: Caller, label: str | None, now: datetime, expires_at: datetime
) -> CreatedKey:
    key = KeyItem(
        access_key=new_access_key(),
        owner=caller.customer_id,
        owner_email=caller.email,
        label=label,
        created_at=now,
        expires_at=expires_at,
        status=ACTIVE,
        salt=new_salt(),
        kdf=KDF,
    )
    return CreatedKey(key=key, secret_key=deriver.derive(key.access_key, key.salt, use_cache=False))


def list_keys(
    store: KeyStore, caller: Caller, now: datetime, stacks: Mapping[str, list[dict]] | None = None
) -> list[dict]:
    """The caller's keys, newest first, each with the active stacks that use it (`stacks`)."""
    keys = store.list_keys(caller.customer_id)
    keys.sort(key=lambda k: k.created_at, reverse=True)
    return [{**k.public(now), "stacks": list((stacks or {}).get(k.access_key, []))} for k in keys]


def revoke_key(
    store: KeyStore,
    caller: Caller,
    access_key: str,
    now: datetime,
    *,
    live_stacks: Callable[[], list[dict]] = list,
    confirmed: bool = False,
) -> None:
    """Idempotent for the owner; unknown and foreign keys look the same (404, no existence leak).

    Revoking a key that live stacks still use stops them (no usage reports, no license tokens,
    so their solution answers 402 once its token expires): without `confirmed` that is a
    `409 Conflict` naming the stacks, and nothing changes."""
    key = store.get_key(access_key) if ACCESS_KEY_RE.match(access_key) else None
    if key is None or key.owner != caller.customer_id:
        raise NotFound("No such key.")
    if key.status != ACTIVE:
        return
    stacks = [] if confirmed else live_stacks()
    if stacks:
        names = "; ".join(
            f"{s['stack_name']} ({s['aws_account_id']}, {s['region']})" for s in stacks[:10]
        ) + ("; …" if len(stacks) > 10 else "")
        raise Conflict(
            f"{len(stacks)} live stack(s) still use this key: {names}. Revoking it stops them; "
            "to revoke anyway, repeat with ?confirm=true."
        )
    store.revoke(key, now)


def issue_platform_key(
    store: KeyStore,
    deriver: SecretDeriver,
    *,
    owner: str,
    email: str,
    access_key: str,
    label: str,
    now: datetime,
    expires_at: datetime,
) -> CreatedKey:
    """A key the platform issues for the customer (Quick Launch's deployment key), in the same
    vault and key set as the keys they create, so it is listed, counted and revocable like them.

    The caller chose `access_key` and recorded it first, so a retry after a crash finds the key
    it created and re-derives the same secret, instead of issuing a second key. It is not refused
    past `max_active_keys`: there is one per live agreement, and a full key list must not stop a
    Marketplace purchase from launching (the customer's own creations still stop at the limit).
    """
    existing = store.get_key(access_key)
    if existing is None:
        key = KeyItem(
            access_key=access_key,
            owner=owner,
            owner_email=email,
            label=label,
            created_at=now,
            expires_at=expires_at,
            status=ACTIVE,
            salt=new_salt(),
            kdf=KDF,
        )
        for _ in range(_ATTEMPTS):
            keyset = store.get_keyset(owner)
            try:
                store.insert_key(
                    key, keyset, {**keyset.live(now), access_key: int(expires_at.timestamp())}, now
                )
                existing = key
                break
            except KeySetContention:
                continue
            except AccessKeyTaken:
                existing = store.get_key(access_key)
                break
        else:
            raise ServiceError("Too many concurrent changes to the customer's keys; retry.")
    if existing is None or existing.owner != owner:
        raise ServiceError("The deployment key's access key belongs to another customer.")
    return CreatedKey(
        key=existing, secret_key=deriver.derive(existing.access_key, existing.salt, use_cache=False)
    )


def revoke_platform_key(store: KeyStore, owner: str, access_key: str, now: datetime) -> bool:
    """Revoke a key the platform issued; False when it was already revoked (by its owner, say)."""
    key = store.get_key(access_key)
    if key is None or key.owner != owner or key.status != ACTIVE:
        return False
    return store.revoke(key, now)
