"""Catalogue admin: categories, products, variants, treatments; CSV import and export."""
