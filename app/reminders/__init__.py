"""Reminders: rules write due messages to the outbox; dispatchers deliver them through channels."""
