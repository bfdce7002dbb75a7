"""Treatment enquiries: a customer asks the clinic to arrange a treatment."""
