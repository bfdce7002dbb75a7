"""The audit log: who changed what, when, with the row before and after.

Other domains record their staff writes with `from shop.audit import record as audit_record`.
"""

from shop.audit.services import record

__all__ = ["record"]
