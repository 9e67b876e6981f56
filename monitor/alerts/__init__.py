"""Alerts: what is told to whom (outbox), rendered as e-mail and messages, and delivered with retries."""
