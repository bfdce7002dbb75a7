"""Payment schemas: what checkout hands the client, and a payment's state after a sync."""

import marshmallow as ma

from shop.orders.schemas import OrderQuerySchema, OrderSchema
from shop.schemas import money_field


class PaymentStartSchema(ma.Schema):
    """Everything a web or mobile client needs to take the card payment."""

    provider = ma.fields.String(required=True, metadata={"example": "stripe"})
    flow = ma.fields.String(required=True, metadata={"description": "payment_intent | hosted"})
    payment_intent_id = ma.fields.String(allow_none=True)
    client_secret = ma.fields.String(
        allow_none=True, metadata={"description": "For Stripe.js / the mobile PaymentSheet"})
    publishable_key = ma.fields.String(required=True)
    customer_id = ma.fields.String(allow_none=True,
                                   metadata={"description": "Signed-in customers only"})
    customer_session_client_secret = ma.fields.String(
        allow_none=True, metadata={"description": "Signed-in customers: shows saved cards"})
    ephemeral_key_secret = ma.fields.String(
        allow_none=True,
        metadata={"description": "Signed-in customers, when STRIPE_EPHEMERAL_KEY_VERSION is set"})
    checkout_url = ma.fields.String(
        allow_none=True, metadata={"description": "Hosted flow: send the customer here"})
    amount = money_field(required=True)


class PaymentStateSchema(ma.Schema):
    provider = ma.fields.String(required=True)
    flow = ma.fields.String(required=True)
    attempt = ma.fields.Integer(required=True)
    status = ma.fields.String(
        required=True, metadata={"description": "Stripe's PaymentIntent status (succeeded, "
                                                "requires_payment_method...), or open/expired "
                                                "for a hosted page"})
    payment_intent_id = ma.fields.String(allow_none=True)
    checkout_session_id = ma.fields.String(allow_none=True)
    amount = ma.fields.Method("_amount", metadata={"description": "Money"})
    last_error = ma.fields.String(allow_none=True,
                                  metadata={"description": "Why the last attempt failed"})

    def _amount(self, payment) -> dict:
        return {"amount": payment.amount, "currency": payment.currency}


class SyncQuerySchema(OrderQuerySchema):
    pass


class SyncResultSchema(ma.Schema):
    order = ma.fields.Nested(OrderSchema, required=True)
    payment = ma.fields.Nested(PaymentStateSchema, allow_none=True,
                               metadata={"description": "null: nothing to pay by card"})


class WebhookAckSchema(ma.Schema):
    received = ma.fields.Boolean(required=True)
    duplicate = ma.fields.Boolean(required=True,
                                  metadata={"description": "Seen before: nothing changed"})
