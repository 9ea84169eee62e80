"""A background worker: no port, just work, and a log line for each piece of it."""
import os
import signal
import sys
import time

running = True


def stop(signum, frame):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)
interval = float(os.environ.get("INTERVAL", "1"))
n = 0
while running:
    n += 1
    print("%s: tick %d" % (os.environ.get("SHOAL_INSTANCE"), n), flush=True)
    time.sleep(interval)
print("stopping after %d ticks" % n, flush=True)
sys.exit(0)
