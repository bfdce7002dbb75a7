"""Wishlists: the products a signed-in customer has saved for later (the app's heart)."""
