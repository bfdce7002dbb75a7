"""Promotion codes: a percentage or an amount off the products of a cart, within limits."""
