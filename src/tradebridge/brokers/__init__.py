"""Broker adapters: one folder per broker, each translating its SDK to and from `domain`."""
