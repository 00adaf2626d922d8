"""Notifications: inbox notices and Web Push (VAPID), once per batch, never per document."""
