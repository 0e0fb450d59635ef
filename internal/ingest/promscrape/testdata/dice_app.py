"""A dice-rolling app instrumented with prometheus_client, as a scrape target for tests.

Usage: python3 dice_app.py PORT
It serves /metrics on 127.0.0.1:PORT and rolls a die every 50 ms, counting the rolls in
dice_rolls_total{roll_value="1".."6"}.
"""
import random
import sys
import time

from prometheus_client import Counter, start_http_server

ROLLS = Counter("dice_rolls", "The number of rolls by roll value.", ["roll_value"])


def main():
    port = int(sys.argv[1])
    start_http_server(port, addr="127.0.0.1")
    while True:
        ROLLS.labels(roll_value=str(random.randint(1, 6))).inc()
        time.sleep(0.05)


if __name__ == "__main__":
    main()
