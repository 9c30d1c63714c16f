"""A fake TWS / IB Gateway for the `ib` adapter's tests, written from the TWS API socket
protocol (the text protocol of server versions 157 to 178, the range ib_async negotiates).

Run it as its own process: `python -m tests.brokers.ib.fake_tws --state FILE`; it prints
`FAKE_TWS READY api=<port> control=<port>` once both ports listen. `support.py` drives it.
"""
