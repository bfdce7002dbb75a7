"""Orders: the placed order, its lines, events, stock reservations and payment transitions."""
