"""`/api/v1/stream` against a real `tradebridge serve`: auth, ops, errors, heartbeats, quotes."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
import websockets
from tests.conftest import Server
from tests.stream.conftest import create_api_key
from tests.stream.stream_support import (
    ACCOUNT_CHANNELS,
    StreamClient,
    filled,
    place,
    ws_url,
)

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("close_clients")]


def forged_token(server: Server, *, expired: bool) -> str:
    """The claims of a real login token, signed again with the server's secret and a new
    expiry."""
    secret = (server.config.parent / "data" / "jwt_secret").read_text().strip()
    claims = jwt.decode(server.login(), secret, algorithms=["HS256"])
    now = datetime.now(UTC)
    exp = now - timedelta(minutes=1) if expired else now + timedelta(minutes=5)
    return jwt.encode({**claims, "iat": now, "exp": exp}, secret)


async def test_auth_by_first_message_then_ping_and_subscribe(
    stream_server: Server, stream_token: str
) -> None:
    client = await StreamClient.open(stream_server, stream_token)
    assert client.received[0] == {"type": "status", "data": {"engine": "up"}}
    assert await client.request(op="ping", id=7) == {"type": "pong", "id": 7}
    reply = await client.subscribe([*ACCOUNT_CHANNELS, "quotes:600519.sh"])
    assert reply["account"] == "paper"
    assert isinstance(reply["data"]["since_seq"], int)
    assert "seq" not in reply  # only account events carry seq
    assert reply["data"]["channels"] == [
        "account",
        "orders",
        "positions",
        "trades",
        "quotes:600519.SH",
    ]
    await client.close()


async def test_auth_by_query_token_which_never_reaches_the_log(
    stream_server: Server, stream_token: str
) -> None:
    client = await StreamClient.open(stream_server, stream_token, query=True)
    await client.subscribe(["orders"])
    await client.close()
    refused = await StreamClient.open(stream_server)
    await refused.ws.close()
    ws = await websockets.connect(ws_url(stream_server) + "?token=not-a-real-token-xyz")
    code, _, _ = await StreamClient(ws).closed()
    assert code == 4401
    await asyncio.sleep(0.2)
    log = stream_server.output()
    assert '"WebSocket /api/v1/stream" [accepted]' in log
    assert stream_token not in log
    assert stream_token[-20:] not in log
    assert "not-a-real-token-xyz" not in log


async def test_auth_by_authorization_header(stream_server: Server, stream_token: str) -> None:
    async with websockets.connect(
        ws_url(stream_server), additional_headers={"Authorization": f"Bearer {stream_token}"}
    ) as ws:
        assert json.loads(await ws.recv())["type"] == "status"


@pytest.mark.parametrize("how", ["message", "query"])
@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("garbage", "invalid token"),
        ("tbk_not-a-key", "invalid or revoked API key"),
        ("expired", "the token has expired; log in again"),
        ("   ", "the token is empty"),
    ],
)
async def test_bad_tokens_are_refused_with_4401_and_a_reason(
    stream_server: Server, how: str, token: str, reason: str
) -> None:
    if token == "expired":
        token = forged_token(stream_server, expired=True)
    if how == "query":
        ws = await websockets.connect(ws_url(stream_server) + f"?token={token}")
    else:
        ws = await websockets.connect(ws_url(stream_server))
        await ws.send(json.dumps({"op": "auth", "token": token}))
    client = StreamClient(ws)
    code, close_reason, messages = await client.closed()
    assert (code, close_reason) == (4401, reason)
    assert messages == [
        {"type": "error", "data": {"code": "unauthorized", "message": reason, "details": {}}}
    ]


async def test_a_forged_but_valid_token_works(stream_server: Server) -> None:
    client = await StreamClient.open(stream_server, forged_token(stream_server, expired=False))
    await client.close()


async def test_no_auth_message_in_time_closes_with_4408(stream_server: Server) -> None:
    ws = await websockets.connect(ws_url(stream_server))
    started = time.monotonic()
    code, reason, messages = await StreamClient(ws).closed()
    assert (code, reason) == (4408, "no auth message within 1 s")
    assert 0.9 < time.monotonic() - started < 5
    assert messages[0]["data"]["code"] == "auth_timeout"


@pytest.mark.parametrize(
    "first", ["not json", '{"op": "ping"}', "[1, 2]", '{"op": "auth"}', '{"op": "auth", "x": 1}']
)
async def test_a_first_message_other_than_auth_closes_with_4400(
    stream_server: Server, first: str
) -> None:
    ws = await websockets.connect(ws_url(stream_server))
    await ws.send(first)
    code, reason, messages = await StreamClient(ws).closed()
    assert code == 4400
    assert reason.startswith('the first message must be {"op": "auth"')
    assert messages[0]["data"]["code"] == "bad_request"


async def test_bad_messages_get_an_error_and_the_connection_stays_usable(
    stream_server: Server, stream_token: str
) -> None:
    client = await StreamClient.open(stream_server, stream_token)
    cases: list[tuple[str, str, str]] = [
        ("not json", "bad_request", "the message is not valid JSON"),
        ("[]", "bad_request", 'send a JSON object such as {"op": "ping"}'),
        ('{"id": 1}', "bad_request", 'the message has no "op"'),
        ('{"op": "fly", "id": "a"}', "unknown_op", "unknown op 'fly'"),
        ('{"op": "subscribe"}', "bad_request", "subscribe: Object missing required field"),
        ('{"op": "subscribe", "channels": []}', "bad_request", "subscribe: Expected `array`"),
        ('{"op": "subscribe", "channels": ["nope"]}', "unknown_channel", "unknown channel"),
        ('{"op": "subscribe", "channels": ["quotes:XYZ"]}', "unknown_channel", "channel"),
        ('{"op": "resume", "since_seq": -1}', "bad_request", "resume: Expected `int` >= 0"),
        ('{"op": "resume", "since_seq": 0, "channels": ["quotes:600519.SH"]}', "bad_request", ""),
        ('{"op": "ping", "extra": true}', "bad_request", "ping: Object contains unknown field"),
        ('{"op": "auth", "token": "x"}', "bad_request", "already authenticated"),
        ('{"op": "subscribe", "channels": ["orders"], "account": "nope"}', "not_found", ""),
    ]
    replies = []
    for raw, code, message in cases:
        await client.ws.send(raw)
        reply = await client.until(lambda m: m["type"] == "error")
        assert reply["data"]["code"] == code, raw
        assert reply["data"]["message"].startswith(message), (raw, reply)
        replies.append(reply)
    assert replies[3]["id"] == "a"
    assert replies[3]["data"]["details"] == {"op": "fly"}
    assert await client.request(op="ping") == {"type": "pong"}
    await client.subscribe(["orders"])
    await client.close()


async def test_an_account_the_caller_may_not_read_is_refused_and_the_socket_stays_open(
    stream_server: Server,
) -> None:
    bound = create_api_key(stream_server, scopes="read", account="other")
    client = await StreamClient.open(stream_server, bound)
    refused = await client.request(op="subscribe", channels=["orders"], account="paper", id=1)
    assert refused["type"] == "error"
    assert refused["id"] == 1
    assert refused["data"]["code"] == "forbidden"
    assert refused["data"]["message"] == "this key is bound to account 'other'"
    resume = await client.request(op="resume", account="paper", since_seq=0)
    assert resume["data"]["code"] == "forbidden"
    quotes = await client.request(op="subscribe", channels=["quotes:600519.SH"], account="paper")
    assert quotes["data"]["code"] == "forbidden"
    reply = await client.subscribe(["orders"], account="other")
    assert reply["account"] == "other"
    await client.close()


async def test_a_key_without_read_scope_is_closed_with_4403(stream_server: Server) -> None:
    trade_only = create_api_key(stream_server, scopes="trade")
    ws = await websockets.connect(ws_url(stream_server))
    await ws.send(json.dumps({"op": "auth", "token": trade_only}))
    code, reason, _ = await StreamClient(ws).closed()
    assert (code, reason) == (4403, "this needs the 'read' scope")


async def test_server_pings_and_a_silent_client_is_closed_with_4408(
    stream_server: Server, stream_token: str
) -> None:
    ws = await websockets.connect(ws_url(stream_server), ping_interval=None)
    await ws.send(json.dumps({"op": "auth", "token": stream_token}))
    started = time.monotonic()
    code, reason, messages = await StreamClient(ws).closed(within=10)
    assert code == 4408
    assert reason == "nothing received from the client for 3 s"
    assert 2.5 < time.monotonic() - started < 6
    assert [m["type"] for m in messages].count("ping") >= 2
    assert messages[-1]["data"]["code"] == "heartbeat_timeout"


async def test_a_client_answering_pings_stays_connected(
    stream_server: Server, stream_token: str
) -> None:
    client = await StreamClient.open(stream_server, stream_token)  # answers every ping
    await client.quiet(4.5)
    assert await client.request(op="ping") == {"type": "pong"}
    await client.close()


async def test_quotes_arrive_when_the_market_moves_then_stop_after_unsubscribe(
    stream_server: Server, stream_token: str
) -> None:
    client = await StreamClient.open(stream_server, stream_token)
    await client.subscribe(["quotes:000001.SZ"])
    headers = {"Authorization": f"Bearer {stream_token}"}
    async with httpx.AsyncClient(base_url=stream_server.base_url, headers=headers) as api:
        for last in ("11.11", "11.12"):
            response = await api.post(
                "/api/v1/paper/paper/quotes", json={"symbol": "000001.SZ", "last": last}
            )
            assert response.status_code == 200
            quote = await client.until(
                lambda m, last=last: m["type"] == "quote" and str(m["data"]["last"]) == last
            )
            assert quote["data"]["symbol"] == "000001.SZ"
            assert "seq" not in quote
            assert quote["account"] == "paper"  # quotes are per account: each broker has its own
        reply = await client.request(op="unsubscribe", channels=["quotes:000001.SZ"])
        assert reply["data"]["channels"] == []
        await api.post("/api/v1/paper/paper/quotes", json={"symbol": "000001.SZ", "last": "11.2"})
        assert [m for m in await client.quiet(0.5) if m["type"] == "quote"] == []
    # A new subscriber gets the latest quote at once.
    late = await StreamClient.open(stream_server, stream_token)
    await late.subscribe(["quotes:000001.SZ"])
    quote = await late.until(lambda m: m["type"] == "quote")
    assert str(quote["data"]["last"]) == "11.2"
    await client.close()
    await late.close()


async def test_channels_filter_events_and_prev_seq_chains_what_was_sent(
    stream_server: Server, stream_token: str
) -> None:
    trades_only = await StreamClient.open(stream_server, stream_token)
    everything = await StreamClient.open(stream_server, stream_token)
    start = (await trades_only.subscribe(["trades"]))["data"]["since_seq"]
    await everything.subscribe(ACCOUNT_CHANNELS)
    headers = {"Authorization": f"Bearer {stream_token}"}
    async with httpx.AsyncClient(base_url=stream_server.base_url, headers=headers) as api:
        orders = [await place(api) for _ in range(3)]
    all_events = await everything.events_until(filled(orders[-1]["id"]))
    trades = [
        await trades_only.until(
            lambda m, o=o: m["type"] == "trade" and m["data"]["order_id"] == o["id"]
        )
        for o in orders
    ]
    assert [t["type"] for t in trades] == ["trade"] * 3
    # prev_seq links each trade to the one before (the first to the subscribe point) ...
    assert [t["prev_seq"] for t in trades] == [start, trades[0]["seq"], trades[1]["seq"]]
    # ... and the seq numbers skipped are exactly the other types' events.
    skipped = {e["seq"]: e["type"] for e in all_events if e["seq"] <= trades[-1]["seq"]}
    between = [skipped[s] for s in range(trades[0]["seq"] + 1, trades[1]["seq"])]
    assert between
    assert "trade" not in between
    # Adding channels later keeps the chain going.
    reply = await trades_only.subscribe(["orders"])
    assert reply["data"]["since_seq"] == trades[-1]["seq"]
    assert reply["data"]["channels"] == ["orders", "trades"]
    await trades_only.close()
    await everything.close()
