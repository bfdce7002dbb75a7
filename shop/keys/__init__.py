"""Key rotation: re-keying what VOUCHER_KEY protects, and what still needs a fallback."""
