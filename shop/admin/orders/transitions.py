"""The order status flow staff drive, as data: which action moves which status where.

    pending_payment --(payment)--> paid --fulfil--> fulfilled --complete--> completed
    pending_payment --cancel--> cancelled
    paid --cancel (only once refunded in full)--> cancelled

Anything else is a 409 `invalid_transition`. Payment itself is the payments domain's.
"""

from __future__ import annotations

from shop import status_flow

TRANSITIONS: status_flow.Flow = {
    "fulfil": (frozenset({"paid"}), "fulfilled"),
    "complete": (frozenset({"fulfilled"}), "completed"),
    "cancel": (frozenset({"pending_payment", "paid"}), "cancelled"),
}
PAST_TENSE = {action: target for action, (_allowed, target) in TRANSITIONS.items()}


def next_status(status: str, action: str) -> str:
    """The status `action` leads to from `status`, or Conflict invalid_transition."""
    return status_flow.next_status(TRANSITIONS, status, action, subject="order")
