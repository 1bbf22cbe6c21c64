"""Micro-benchmark: channels' InMemoryChannelLayer vs realtime.delivery.layers.InProcessChannelLayer.

    python bench/layer_micro.py [--sockets 10000] [--seconds 5] [--skip-stock]

Shaped like the server: every socket is a channel with a consumer task blocked in receive(), in
its own user group and in one shared ride group (4 sockets per ride). A publisher group_sends
flat messages (a pre-encoded JSON string plus scalars) to random user and ride groups, in
batches, and waits until the consumers have received every delivery. Prints group_sends/s and
deliveries/s (one delivery = one message received by one consumer) for each layer, and how
long the sockets' consumers took to start (each stock receive() scans the whole layer, so with
10,000 sockets the stock run spends a minute or more just starting them).
"""

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from channels.layers import InMemoryChannelLayer  # noqa: E402

from realtime.delivery.layers import InProcessChannelLayer  # noqa: E402

RIDE_SIZE = 4
BATCH = 50  # group_sends between waits: keeps every queue far below capacity


async def run(layer_class, sockets, seconds):
    layer = layer_class()
    names = [await layer.new_channel() for _ in range(sockets)]
    user_groups = [f"user-{i}" for i in range(sockets)]
    ride_groups = [f"ride-{i}" for i in range(sockets // RIDE_SIZE)]
    for i, name in enumerate(names):
        await layer.group_add(user_groups[i], name)
        await layer.group_add(ride_groups[i // RIDE_SIZE], name)

    received = 0
    wanted = 0
    caught_up = asyncio.Event()

    async def consumer(name):
        nonlocal received
        while True:
            await layer.receive(name)
            received += 1
            if received >= wanted:
                caught_up.set()

    consumers = [asyncio.create_task(consumer(name)) for name in names]
    started = time.perf_counter()
    await asyncio.sleep(0)  # runs every consumer up to its first receive(), where it blocks
    startup = time.perf_counter() - started

    rng = random.Random(1)
    text = '{"type":"driver.location","lat":4.0511,"lng":9.7679,"heading":90}'
    group_sends = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(BATCH):
            if rng.random() < 0.5:
                group, size = rng.choice(user_groups), 1
            else:
                group, size = rng.choice(ride_groups), RIDE_SIZE
            wanted += size
            await layer.group_send(group, {"type": "realtime.event", "text": text, "id": group_sends})
            group_sends += 1
        if received < wanted:
            caught_up.clear()
            await caught_up.wait()
    elapsed = time.perf_counter() - started

    for task in consumers:
        task.cancel()
    await asyncio.gather(*consumers, return_exceptions=True)
    await layer.flush()
    return startup, group_sends / elapsed, received / elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--skip-stock", action="store_true", help="only time InProcessChannelLayer")
    args = parser.parse_args()
    print(f"{args.sockets} sockets (consumers blocked in receive), {args.sockets} user groups of 1, "
          f"{args.sockets // RIDE_SIZE} ride groups of {RIDE_SIZE}; ~{args.seconds:g} s per layer")
    layer_classes = [InProcessChannelLayer]
    if not args.skip_stock:
        layer_classes.insert(0, InMemoryChannelLayer)
    for layer_class in layer_classes:
        startup, sends, deliveries = asyncio.run(run(layer_class, args.sockets, args.seconds))
        print(f"{layer_class.__module__}.{layer_class.__name__:24} {sends:8.0f} group_sends/s "
              f"{deliveries:8.0f} deliveries/s   consumers started in {startup:6.2f} s")


if __name__ == "__main__":
    main()
