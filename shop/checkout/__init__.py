"""Checkout: shipping methods, and turning a cart into an order with reserved stock."""
