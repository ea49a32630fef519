"""One-line training progress: step, rate, ETA and the loss terms."""
from __future__ import annotations

import time


class Progress:

  def __init__(self, start_step, total_steps, batch_size, clock=time.monotonic):
    self.start_step, self.total, self.batch_size, self.clock = start_step, total_steps, \
        batch_size, clock
    self.t0 = clock()

  def line(self, step, logs, skipped=0):
    elapsed = max(self.clock() - self.t0, 1e-9)
    done = step - self.start_step
    rate = done / elapsed
    eta = (self.total - step) / rate if rate > 0 else float("inf")
    terms = " ".join(f"{k} {logs[k]:.4f}" for k in ("loss", "recon", "offset", "pen", "kl",
                                                   "kl_weight") if k in logs)
    lr = f" lr {logs['lr']:.2e}" if "lr" in logs else ""
    skip = f" skipped {skipped}" if skipped else ""
    return (f"step {step}/{self.total} {rate:.2f} steps/s {rate * self.batch_size:.0f} "
            f"sketches/s ETA {format_seconds(eta)} | {terms}{lr}{skip}")


def format_seconds(seconds):
  if seconds == float("inf"):
    return "?"
  seconds = int(round(seconds))
  h, rem = divmod(seconds, 3600)
  m, s = divmod(rem, 60)
  return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
