"""Order admin: lists and detail, fulfilment, cancellation, refunds."""
