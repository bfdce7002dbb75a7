"""Outgoing email through a transactional outbox: queued with the data it announces, sent by
the worker over SMTP after that data is committed, retried with backoff, never lost."""
