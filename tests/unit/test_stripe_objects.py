"""Stripe objects fetched through the SDK become plain dicts whose text can be stored."""

from __future__ import annotations

import stripe

from shop.payments.client import as_dict


def test_a_fetched_object_with_nul_or_a_lone_surrogate_becomes_storable_text():
    intent = stripe.StripeObject.construct_from({
        "id": "pi_1", "status": "requires_payment_method", "amount": 1500,
        "last_payment_error": {"message": "declined\x00 by \ud800 bank", "code": "card_declined"},
        "metadata": {"note\x00": ["a\x00b", 3]},
    }, "sk_test")
    plain = as_dict(intent)
    assert type(plain) is dict and type(plain["last_payment_error"]) is dict
    assert plain["last_payment_error"]["message"] == "declined\ufffd by \ufffd bank"
    assert plain["metadata"] == {"note\ufffd": ["a\ufffdb", 3]}
    assert (plain["id"], plain["amount"]) == ("pi_1", 1500)


def test_ordinary_text_is_left_as_it_is():
    listed = {"data": [{"id": "re_1", "reason": "requested_by_customer", "amount": 200}]}
    assert as_dict(listed) == listed
