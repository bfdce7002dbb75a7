"""Payments: Stripe PaymentIntents and Checkout Sessions, webhooks, refunds, reconciliation.

The only package that imports `stripe`.
"""
