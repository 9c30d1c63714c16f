"""The engine process: order book of record, risk checks, journal and event sequencing."""
