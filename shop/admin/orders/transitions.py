"""The order status flow staff drive, as data: which action moves which status where.

    pending_payment --(payment)--> paid --fulfil--> fulfilled --complete--> completed
    pending_payment --cancel--> cancelled
    paid --cancel (only once refunded in full)--> cancelled

Anything else is a 409 `invalid_transition`. Payment itself is the payments domain's.
"""

from __future__ import annotations

from shop.errors import Conflict

TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "fulfil": (frozenset({"paid"}), "fulfilled"),
    "complete": (frozenset({"fulfilled"}), "completed"),
    "cancel": (frozenset({"pending_payment", "paid"}), "cancelled"),
}
PAST_TENSE = {"fulfil": "fulfilled", "complete": "completed", "cancel": "cancelled"}


def next_status(status: str, action: str) -> str:
    """The status `action` leads to from `status`, or Conflict invalid_transition."""
    allowed, target = TRANSITIONS[action]
    if status not in allowed:
        raise Conflict(
            f"A {status.replace('_', ' ')} order cannot be {PAST_TENSE[action]}.",
            code="invalid_transition", order_status=status, action=action,
            allowed_from=sorted(allowed),
        )
    return target
