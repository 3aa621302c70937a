"""Fault injection: an 'engine' that never becomes ready and has a child process.

It prints its own pid and its child's pid (the log is where tests read them), then waits.
With --ignore-term it ignores SIGTERM, so only SIGKILL ends it.
"""

import signal
import subprocess
import sys
import time

if "--ignore-term" in sys.argv:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print(f"fake-engine pid {__import__('os').getpid()} child {child.pid}", flush=True)
print("loading model …", flush=True)
while True:
    time.sleep(1)
