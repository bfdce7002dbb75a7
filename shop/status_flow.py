"""Status flows as data: which action moves which status where. Orders, returns and reviews
each declare one; anything the flow does not allow is a 409 naming what would have been."""

from __future__ import annotations

from shop.errors import Conflict

Flow = dict[str, tuple[frozenset[str], str]]  # action -> (statuses it leaves from, status)


def next_status(flow: Flow, status: str, action: str, *, subject: str,
                code: str = "invalid_transition") -> str:
    """The status `action` leads to from `status`, or a Conflict with `code` that says the
    `<subject>_status`, the action and the statuses it is allowed from."""
    allowed, target = flow[action]
    if status not in allowed:
        raise Conflict(f"A {status.replace('_', ' ')} {subject} cannot be {target}.", code=code,
                       action=action, allowed_from=sorted(allowed),
                       **{f"{subject}_status": status})
    return target
