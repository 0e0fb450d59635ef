"""Sends a known set of DogStatsD metrics with Debian's python3-aiodogstatsd.

Usage: python3 dogstatsd_client.py PORT
"""
import asyncio
import sys

import aiodogstatsd


async def main(port):
    async with aiodogstatsd.Client(
        host="127.0.0.1", port=port, namespace="shop", constant_tags={"env": "test"}
    ) as client:
        for value in (1, 2, 2, 3, 3, 3):
            client.increment("dice.rolls", tags={"roll_value": str(value)})
        client.increment("orders", value=5)
        client.decrement("orders")  # a negative counter increment: refused and counted
        client.gauge("queue.depth", value=42)
        client.timing("checkout.time", value=120)
        client.timing("checkout.time", value=480)
        client.histogram("basket.items", value=3)
        client.distribution("payment.latency", value=0.2)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
