"""Accounts: customers and staff, sign-in tokens, address books, staff administration."""
