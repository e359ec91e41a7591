"""Notifications: payload renderers per receiver type, the outbox record, delivery with retry."""
