"""Orchestration of the automatic sync: snapshot, plan, apply, journal."""
