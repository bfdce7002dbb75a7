"""The secrets in use now, and the earlier ones still accepted while a key is rotated.

SECRET_KEY signs links (order links, email verification, unsubscribe). VOUCHER_KEY is what the
keys of voucher codes, sealed emails and two-factor secrets are derived from. Each has a
`*_FALLBACKS` list of earlier values: everything new is made with the current secret, and what
an earlier listed one made is still read, so a secret can change without breaking the links in
sent emails, the codes in customers' hands or anyone's authenticator app. `flask keys rotate`
re-keys what can be re-keyed; `flask keys status` says what still needs a fallback.
"""

from __future__ import annotations

from flask import current_app


def signing_keys() -> list[str]:
    """For itsdangerous: the fallbacks, then SECRET_KEY last (it signs with the last one and
    accepts any)."""
    config = current_app.config
    current = config["SECRET_KEY"]
    return [*(key for key in config.get("SECRET_KEY_FALLBACKS") or () if key != current), current]


def voucher_secrets() -> tuple[str, ...]:
    """VOUCHER_KEY, then its fallbacks: the order in which a stored value is tried."""
    config = current_app.config
    current = config["VOUCHER_KEY"]
    return (current,
            *(secret for secret in config.get("VOUCHER_KEY_FALLBACKS") or () if secret != current))
