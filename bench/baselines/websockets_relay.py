"""Baseline: a plain `websockets` relay server, the floor for Python on this machine. A driver's
message goes straight to its ride's passenger sockets.

    python -m bench.baselines.websockets_relay --port 9001
    ws://HOST/relay?ride=<id>&role=driver|passenger
"""

import argparse
import asyncio
import resource
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

passengers = {}  # ride -> set of sockets


async def handler(ws):
    query = parse_qs(urlsplit(ws.request.path).query)
    ride, role = query["ride"][0], query["role"][0]
    if role == "passenger":
        passengers.setdefault(ride, set()).add(ws)
        try:
            await ws.wait_closed()
        finally:
            passengers[ride].discard(ws)
        return
    try:
        async for text in ws:
            await relay(ride, text)
    except ConnectionClosed:  # the load generator aborts its sockets at the end
        pass


async def relay(ride, text):
    message = '{"type":"driver_location_update","data":' + text + "}"
    for passenger in list(passengers.get(ride, ())):
        try:
            await passenger.send(message)
        except ConnectionClosed:  # a closed passenger just stops getting positions
            pass


async def main(host, port):
    async with serve(handler, host, port, compression=None, ping_interval=20, ping_timeout=30, backlog=2048):
        await asyncio.Future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(main(args.host, args.port))
