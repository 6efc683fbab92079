"""Async clients for ESh, VK ID and Sferum: validation, retries, rate limits."""
