"""A stand-in for xtquant, MiniQMT's Python SDK, for tests on Linux (tradebridge test suite).

The real package's trading and data parts load only on Windows (native modules for win_amd64).
This package reproduces their documented surface (`xttrader`, `xtdata`, `xtconstant`,
`xttype`: names, signatures, return codes, callback thread and order) over a simulated MiniQMT
(`tests/brokers/qmt/miniqmt.py`) reached over a loopback socket. Unlike the real one, importing
it makes no network call. `tests/brokers/qmt/test_standin_drift.py` compares it with the real
wheel so the two cannot drift apart.
"""

__version__ = "xtquant_standin"
