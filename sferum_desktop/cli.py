"""Headless commands (no Qt)."""
