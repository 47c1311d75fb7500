"""Unmodified trading_ig (REST, v2 and v3 sessions) against the scalper sandbox.

    scalper sandbox --port 18080 &
    pip install trading_ig
    python3 tools/compat/trading_ig_rest.py [http://127.0.0.1:18080/gateway/deal]

Only the library's base-URL table is pointed at the sandbox; no library code is changed.
"""
import sys

import trading_ig.rest as rest

URL = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:18080/gateway/deal"
rest.D_BASE_URL["demo"] = URL
from trading_ig import IGService  # noqa: E402

for version in ("2", "3"):
    ig = IGService("sandbox", "sandbox-pass", "sandbox-api-key", acc_type="demo",
                   acc_number="SANDBOX-CFD", return_dataframe=False, return_munch=False)
    ig.create_session(version=version)
    accounts = [a["accountId"] for a in ig.fetch_accounts()["accounts"]]
    m = ig.fetch_market_by_epic("CS.D.EURUSD.CFD.IP")
    opened = ig.create_open_position(
        currency_code="USD", direction="BUY", epic="CS.D.EURUSD.CFD.IP", expiry="-",
        force_open=True, guaranteed_stop=False, level=None, limit_distance=None,
        limit_level=None, order_type="MARKET", quote_id=None, size=1, stop_distance=None,
        stop_level=None, trailing_stop=False, trailing_stop_increment=None)
    assert opened["dealStatus"] == "ACCEPTED", opened
    positions = ig.fetch_open_positions()["positions"]
    assert any(p["position"]["dealId"] == opened["dealId"] for p in positions), positions
    closed = ig.close_open_position(deal_id=opened["dealId"], direction="SELL", epic=None,
                                    expiry=None, level=None, order_type="MARKET",
                                    quote_id=None, size=1)
    assert closed["dealStatus"] == "ACCEPTED", closed
    print(f"v{version}: accounts {accounts}, {m['instrument']['epic']} "
          f"{m['snapshot']['bid']}/{m['snapshot']['offer']}, open+close ok, P&L {closed['profit']}")
print("trading_ig REST: OK")
