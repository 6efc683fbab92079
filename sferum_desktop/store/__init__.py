"""The local SQLite store: registry cache, sync journal, audit log."""
