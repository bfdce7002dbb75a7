"""Stock admin: levels, adjustments and stocktakes through the ledger, low-stock alerts."""
