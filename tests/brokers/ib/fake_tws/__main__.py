"""`python -m tests.brokers.ib.fake_tws`: run the fake TWS until stopped."""

import argparse
import asyncio
import logging
import signal
import sys
from decimal import Decimal
from pathlib import Path

from tests.brokers.ib.fake_tws.book import Book
from tests.brokers.ib.fake_tws.messages import MAX_VERSION
from tests.brokers.ib.fake_tws.server import FakeTws, Settings


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="fake_tws")
    parser.add_argument("--port", type=int, default=0, help="API port; 0 picks a free one")
    parser.add_argument("--control-port", type=int, default=0)
    parser.add_argument("--state", type=Path, required=True, help="JSON file of the account")
    parser.add_argument("--account", default="DU1234567")
    parser.add_argument("--more-accounts", default="", help="more managed accounts, a,b")
    parser.add_argument("--cash", default="USD=100000,HKD=500000")
    parser.add_argument("--server-version", type=int, default=MAX_VERSION)
    parser.add_argument("--master-client-id", type=int, default=None)
    parser.add_argument("--status-first", action="store_true")
    parser.add_argument("--closed", action="store_true", help="start with the API port closed")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


async def main(args: argparse.Namespace) -> None:
    if args.state.exists():
        book = Book.load(args.state)
    else:
        cash = {c: Decimal(v) for c, v in (p.split("=") for p in args.cash.split(","))}
        book = Book(account=args.account, cash=cash)
        book.save(args.state)
    settings = Settings(
        server_version=args.server_version,
        status_first=args.status_first,
        master_client_id=args.master_client_id,
    )
    accounts = [book.account, *filter(None, args.more_accounts.split(","))]
    tws = FakeTws(book, args.state, settings, accounts)
    tws.port = args.port
    control = await asyncio.start_server(tws.serve_control, "127.0.0.1", args.control_port)
    api_port = tws.port if args.closed else await tws.listen(args.port)
    control_port = control.sockets[0].getsockname()[1]
    print(f"FAKE_TWS READY api={api_port} control={control_port}", flush=True)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, tws.stopped.set)
    await tws.stopped.wait()
    control.close()
    await tws.stop_listening()


if __name__ == "__main__":
    arguments = parse_args(sys.argv[1:])
    logging.basicConfig(
        level=logging.DEBUG if arguments.verbose else logging.INFO,
        format="%(asctime)s fake_tws %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    asyncio.run(main(arguments))
