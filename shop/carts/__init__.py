"""Carts: guest and customer baskets, priced from the catalogue on every read."""
