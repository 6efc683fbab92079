"""Sferum Desktop: manage a school's Sferum chats from the electronic school system (ЭШ)."""

__version__ = "0.1.0"
