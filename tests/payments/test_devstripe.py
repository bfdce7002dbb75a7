"""`make run`'s fake Stripe: localstripe for the command's lifetime, and only without a key; its
Stripe-like latency."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import stripe

from shop.payments import devstripe

PRINT_ENV = (
    "import json, os, requests\n"
    "keys = ['STRIPE_API_BASE', 'STRIPE_SECRET_KEY', 'STRIPE_PUBLISHABLE_KEY',"
    " 'STRIPE_WEBHOOK_SECRET']\n"
    "env = {k: os.environ.get(k) for k in keys}\n"
    "if env['STRIPE_API_BASE']:\n"
    "    env['reachable'] = requests.get(env['STRIPE_API_BASE'] + '/v1/balance',"
    " auth=(env['STRIPE_SECRET_KEY'], ''), timeout=5).status_code\n"
    "print(json.dumps(env))\n"
)


def run_wrapped(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-P", devstripe.__file__, "run", "--port", "0",
         "--webhook-url", "http://127.0.0.1:9/api/v1/stripe/webhook", "--",
         sys.executable, "-c", PRINT_ENV],
        cwd=devstripe.ROOT, env=env, capture_output=True, text=True, timeout=60, check=True,
    )


def test_without_a_key_the_command_gets_a_running_fake_stripe_that_stops_with_it():
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRIPE_")}
    done = run_wrapped(env)
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["STRIPE_API_BASE"].startswith("http://127.0.0.1:")
    assert (seen["STRIPE_SECRET_KEY"], seen["STRIPE_PUBLISHABLE_KEY"]) == \
        ("sk_test_local", "pk_test_local")
    assert seen["STRIPE_WEBHOOK_SECRET"].startswith("whsec_local_")
    assert seen["reachable"] == 200
    assert "PAYMENTS ARE FAKE" in done.stderr
    with pytest.raises(requests.ConnectionError):
        requests.get(seen["STRIPE_API_BASE"] + "/v1/balance", timeout=2)


def test_with_a_key_the_command_runs_against_the_real_stripe():
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("STRIPE_")},
           "STRIPE_SECRET_KEY": "sk_test_real_account"}
    done = run_wrapped(env)
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"STRIPE_API_BASE": None, "STRIPE_SECRET_KEY": "sk_test_real_account",
                    "STRIPE_PUBLISHABLE_KEY": None, "STRIPE_WEBHOOK_SECRET": None}
    assert "FAKE" not in done.stderr


def test_latency_delays_every_api_answer_without_holding_up_the_others(start_localstripe):
    fake = start_localstripe(latency_ms=300)

    def create(n: int) -> stripe.PaymentIntent:
        return fake.client.v1.payment_intents.create(params={
            "amount": 4200 + n, "currency": "gbp", "payment_method_types": ["card"]})

    started = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        intents = list(pool.map(create, range(4)))
    elapsed = time.perf_counter() - started
    assert [intent.amount for intent in intents] == [4200, 4201, 4202, 4203]
    assert all(intent.status == "requires_payment_method" for intent in intents)
    assert 0.3 <= elapsed < 1.0  # side by side: in turn, four would take 1.2 s
    started = time.perf_counter()
    fake.reset()  # _config: instant
    assert time.perf_counter() - started < 0.3
