"""Python strategies used by the tests and the benchmark."""

import scalper


class EmaCross(scalper.Strategy):
    """The built-in `ema-cross` in Python: EMAs of the mid (alpha = 2/(n+1), seeded with the
    first mid), no trading until the slow one has seen `slow` quotes, long when fast > slow,
    short when fast < slow; on a change, close the other side and open `size` the new way."""

    name = "ema-cross-py"

    def __init__(self, fast=10, slow=30, size=1):
        self.a_fast = 2.0 / (fast + 1.0)
        self.a_slow = 2.0 / (slow + 1.0)
        self.slow_n = slow
        self.size = size
        self.fast = self.slow = None
        self.n = 0
        self.target = None

    def on_quote(self, q, ctx):
        mid = q.mid
        self.n += 1
        if self.fast is None:
            self.fast = self.slow = mid
        else:
            self.fast += self.a_fast * (mid - self.fast)
            self.slow += self.a_slow * (mid - self.slow)
        if self.n < self.slow_n:
            return None
        if self.fast > self.slow:
            target = scalper.BUY
        elif self.fast < self.slow:
            target = scalper.SELL
        else:
            return None
        if target == self.target:
            return None
        out = []
        if self.target is not None:
            out.append(scalper.Exit(self.target, reason="flip"))
        self.target = target
        out.append(scalper.Enter(target, size=self.size, reason="ema-cross-py"))
        return out
