"""The Stripe client: stripe-python's lazy imports happen when the app is built, not in the
first checkouts of a new worker."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOADED_AFTER_CREATE_APP = (
    "import json, sys\n"
    "from shop import create_app\n"
    "create_app({'SQLALCHEMY_DATABASE_URI': 'sqlite://'})\n"
    "print(json.dumps(sorted(m for m in sys.modules if m.startswith('stripe'))))\n"
)


def test_create_app_imports_what_a_checkout_and_a_webhook_would_import_on_first_use():
    done = subprocess.run([sys.executable, "-c", LOADED_AFTER_CREATE_APP], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=True)
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert {
        "stripe._stripe_client", "stripe._http_client", "stripe._webhook",
        "stripe._payment_intent_service", "stripe._payment_intent",
        "stripe._refund_service", "stripe._refund",
        "stripe.checkout._session_service", "stripe.checkout._session",
        "stripe._customer_service", "stripe._event",
    } <= loaded
