"""Allocates (and touches) memory a megabyte at a time until the OOM killer ends it.

HOG_MB (default 1024) caps the total: a host that cannot enforce the memory limit sees the
worker reach it, say so, and idle instead of eating the machine.
"""
import os
import sys
import time

cap = int(os.environ.get("HOG_MB", "1024"))
held = []
for mb in range(1, cap + 1):
    held.append(b"x" * (1 << 20))  # filled, so every page is really charged
    if mb % 8 == 0:
        print("holding %d MB" % mb, flush=True)
print("reached %d MB without being stopped: the memory limit is not enforced" % cap, flush=True)
sys.stdout.flush()
while True:
    time.sleep(60)
