"""Customers sending products back within the return window, and staff refunding them."""
