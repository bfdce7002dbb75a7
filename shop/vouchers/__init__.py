"""Gift vouchers: treatment and money vouchers, their ledger, delivery and reports."""
