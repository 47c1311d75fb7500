"""Unmodified trading_ig streaming (IGStreamService on the official lightstreamer-client-lib,
and trading_ig's own tick StreamingManager) against the scalper sandbox: PRICE, MARKET, TRADE
(CONFIRMS/OPU/WOU), ACCOUNT and CHART tick and candle items, for v2 and v3 sessions and for the
CFD and the spread-bet user.

    scalper sandbox --speed 0 --port 18080 &
    pip install trading_ig==0.0.24 lightstreamer-client-lib==1.0.3
    python3 tools/compat/trading_ig_stream.py [http://127.0.0.1:18080/gateway/deal]

Prices come from the sandbox's admin API (`POST /sandbox/step`), so the sandbox must be paused
(`--speed 0`) for the candle checks to be exact. Deals go over REST through the same IGService;
the script then waits (with deadlines) for them on the stream. Exits non-zero on the first
difference.
"""
import json
import sys
import threading
import time
from datetime import datetime, timezone
from decimal import Decimal

import requests
from lightstreamer.client import Subscription, SubscriptionListener
from trading_ig import IGService, IGStreamService
from trading_ig.streamer.manager import StreamingManager
from trading_ig.streamer.ticker import TickerSubscription

URL = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:18080/gateway/deal"
ADMIN = URL.replace("/gateway/deal", "/sandbox")
IGService.D_BASE_URL["demo"] = URL

# (user, account, epic, expiry, currency)
USERS = [
    ("sandbox", "SANDBOX-CFD", "CS.D.EURUSD.CFD.IP", "-", "USD"),
    ("sandbox-sb", "SANDBOX-SB", "CS.D.EURUSD.TODAY.IP", "DFB", "GBP"),
]
TICKS = 40
CANDLE = ["UTM", "BID_OPEN", "BID_HIGH", "BID_LOW", "BID_CLOSE", "OFR_OPEN", "OFR_HIGH",
          "OFR_LOW", "OFR_CLOSE", "CONS_END", "CONS_TICK_COUNT", "DAY_HIGH", "DAY_LOW"]


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def wait_for(what, probe, timeout=10.0):
    """Polls `probe` until it returns something truthy; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


class Recorder(SubscriptionListener):
    """Keeps every update of one subscription as a dict of field -> value."""

    def __init__(self, fields):
        self.fields = fields
        self.updates = []
        self.subscribed = False
        self.errors = []
        self.lock = threading.Lock()

    def onSubscription(self):
        self.subscribed = True

    def onSubscriptionError(self, code, message):
        self.errors.append((code, message))

    def onItemUpdate(self, update):
        row = {f: update.getValue(f) for f in self.fields}
        with self.lock:
            self.updates.append(row)

    def rows(self):
        with self.lock:
            return list(self.updates)


def subscribe(stream, mode, item, fields, adapter=None):
    sub = Subscription(mode=mode, items=[item], fields=fields)
    if adapter:
        sub.setDataAdapter(adapter)
    sub.setRequestedSnapshot("yes")
    rec = Recorder(fields)
    sub.addListener(rec)
    stream.subscribe(sub)
    return rec


def trade_events(trade, field):
    return [json.loads(r[field]) for r in trade.rows() if r[field]]


def dec(s):
    return Decimal(s) if s not in (None, "") else None


def check_candles(name, candles, ticks, period, need_complete):
    """Each candle (its last update per start) must be the OHLC and count of the ticks seen
    in its window. The snapshot's candle also holds the ticks before the subscription: it
    must contain the ticks seen and close on the last."""
    last = {}
    for r in candles.rows():
        last[int(r["UTM"])] = r
    first_seen = int(ticks[0]["UTM"])
    complete = 0
    for start, r in last.items():
        window = [t for t in ticks if start <= int(t["UTM"]) < start + period]
        if not window:
            return f"{name} candle {start} has no ticks"
        earlier = start <= first_seen
        for side, key in (("BID", "BID"), ("OFR", "OFR")):
            prices = [dec(t[key]) for t in window]
            want = [prices[0], max(prices), min(prices), prices[-1]]
            got = [dec(r[f"{side}_{k}"]) for k in ("OPEN", "HIGH", "LOW", "CLOSE")]
            if earlier:
                if not (got[1] >= want[1] and got[2] <= want[2] and got[3] == want[3]):
                    return f"{name} snapshot candle {start} {side}: {got} misses ticks {want}"
            elif got != want:
                return f"{name} candle {start} {side}: {got} != ticks {want}"
        count = int(r["CONS_TICK_COUNT"])
        if count < len(window) or (not earlier and count != len(window)):
            return f"{name} candle {start}: {r['CONS_TICK_COUNT']} ticks, saw {len(window)}"
        complete += r["CONS_END"] == "1"
    if complete < need_complete:
        return f"{name}: {complete} complete candles, want {need_complete}"
    return None


def rest_matches_candles(ig, epic, candles, resolution, points):
    """The last update of each candle equals the REST bar of the same start (v2 by number of
    points): bid and offer open, high, low, close, and the tick count as the volume."""
    bars = {}
    for b in ig.fetch_historical_prices_by_epic_and_num_points(epic, resolution, points)["prices"]:
        start = datetime.strptime(b["snapshotTime"], "%Y/%m/%d %H:%M:%S").replace(tzinfo=timezone.utc)
        bars[int(start.timestamp() * 1000)] = b
    last = {}
    for r in candles.rows():
        last[int(r["UTM"])] = r
    newest = max(last)
    for start, r in last.items():
        if resolution == "MINUTE" and start != newest:
            continue
        b = bars.get(start)
        check(b is not None, (resolution, start, sorted(bars)))
        for side, key in (("BID", "bid"), ("OFR", "ask")):
            got = [Decimal(str(b[f"{k}Price"][key])) for k in ("open", "high", "low", "close")]
            want = [dec(r[f"{side}_{k}"]) for k in ("OPEN", "HIGH", "LOW", "CLOSE")]
            check(got == want, (resolution, start, side, got, want))
        check(b["lastTradedVolume"] == int(r["CONS_TICK_COUNT"]), (resolution, start, b, r))


def prices_and_charts(ig, stream, account, epic):
    price = subscribe(stream, "MERGE", f"PRICE:{account}:{epic}",
                      ["BIDPRICE1", "ASKPRICE1", "TIMESTAMP", "DLG_FLAG", "HIGH", "LOW"],
                      adapter="Pricing")
    market = subscribe(stream, "MERGE", f"MARKET:{epic}",
                       ["BID", "OFFER", "MARKET_STATE", "UPDATE_TIME"])
    ticks = subscribe(stream, "DISTINCT", f"CHART:{epic}:TICK", TickerSubscription.TICKER_FIELDS)
    seconds = subscribe(stream, "MERGE", f"CHART:{epic}:SECOND", CANDLE)
    minutes = subscribe(stream, "MERGE", f"CHART:{epic}:1MINUTE", CANDLE)
    manager = StreamingManager(stream)
    manager.start_tick_subscription(epic)
    subs = [price, market, ticks, seconds, minutes]
    wait_for("price and chart subscriptions", lambda: all(s.subscribed for s in subs))
    check(not any(s.errors for s in subs), [s.errors for s in subs])
    wait_for("tick snapshot", lambda: ticks.rows() and minutes.rows())
    stepped = requests.post(f"{ADMIN}/step", json={"epic": epic, "ticks": TICKS}, timeout=10)
    check(stepped.ok, stepped.text)
    last = stepped.json()["last"]
    last_ms = str(last["ts"])
    wait_for(f"the last stepped tick {last}", lambda: any(t["UTM"] == last_ms for t in ticks.rows()))
    tick_rows = ticks.rows()
    check(len(tick_rows) == TICKS + 1, f"{len(tick_rows)} ticks")
    utms = [int(t["UTM"]) for t in tick_rows]
    check(utms == sorted(utms) and len(set(utms)) == len(utms), utms)
    check(all(dec(t["BID"]) < dec(t["OFR"]) for t in tick_rows), tick_rows)
    end = tick_rows[-1]
    check(dec(end["BID"]) == dec(last["bid"]) and dec(end["OFR"]) == dec(last["offer"]), (end, last))
    # MERGE items end on the last tick.
    wait_for("PRICE on the last tick", lambda: price.rows()[-1]["TIMESTAMP"] == last_ms)
    p = price.rows()[-1]
    check(dec(p["BIDPRICE1"]) == dec(end["BID"]) and dec(p["ASKPRICE1"]) == dec(end["OFR"]), p)
    check(p["DLG_FLAG"].strip() == "DEAL", p)
    mids = [(dec(t["BID"]) + dec(t["OFR"])) / 2 for t in tick_rows]
    check(dec(p["HIGH"]) >= max(mids) and dec(p["LOW"]) <= min(mids), (p, max(mids), min(mids)))
    wait_for("MARKET on the last tick", lambda: dec(market.rows()[-1]["BID"]) == dec(end["BID"]))
    check(market.rows()[-1]["MARKET_STATE"] == "TRADEABLE", market.rows()[-1])
    snap = ig.fetch_market_by_epic(epic)["snapshot"]
    check(Decimal(str(snap["bid"])) == dec(end["BID"]), (snap, end))
    check(Decimal(str(snap["offer"])) == dec(end["OFR"]), (snap, end))
    # Candles agree with the ticks (SECOND: several complete; 1MINUTE: the forming one).
    wait_for("SECOND candles consistent with the ticks",
             lambda: check_candles("SECOND", seconds, tick_rows, 1_000, 3) is None, timeout=5)
    wait_for("1MINUTE candles consistent with the ticks",
             lambda: check_candles("1MINUTE", minutes, tick_rows, 60_000, 0) is None, timeout=5)
    # REST /prices serves the same bars as the candles: every SECOND candle, and the forming
    # minute.
    rest_matches_candles(ig, epic, seconds, "SECOND", 30)
    rest_matches_candles(ig, epic, minutes, "MINUTE", 1)
    # trading_ig's own tick consumer saw the same last tick.
    ticker = manager.ticker(epic)
    wait_for("trading_ig Ticker on the last tick",
             lambda: Decimal(str(manager.ticker(epic).bid)) == dec(end["BID"]))
    check(Decimal(str(ticker.offer)) == dec(end["OFR"]), ticker)
    return len(tick_rows), len(seconds.rows())


def dealing(ig, stream, account, epic, expiry, currency):
    trade = subscribe(stream, "DISTINCT", f"TRADE:{account}", ["CONFIRMS", "OPU", "WOU"])
    acct = subscribe(stream, "MERGE", f"ACCOUNT:{account}",
                     ["PNL", "AVAILABLE_CASH", "FUNDS", "MARGIN", "EQUITY", "AVAILABLE_TO_DEAL"])
    wait_for("TRADE and ACCOUNT subscriptions", lambda: trade.subscribed and acct.subscribed)
    check(not trade.errors and not acct.errors, (trade.errors, acct.errors))
    # ACCOUNT answers with a snapshot that agrees with REST.
    first = wait_for("ACCOUNT snapshot", lambda: acct.rows())[0]
    balance = [a for a in ig.fetch_accounts()["accounts"] if a["accountId"] == account][0]
    check(dec(first["FUNDS"]) == Decimal(str(balance["balance"]["balance"])), (first, balance))
    check(dec(first["MARGIN"]) == 0, first)

    opened = ig.create_open_position(
        currency_code=currency, direction="BUY", epic=epic, expiry=expiry, force_open=True,
        guaranteed_stop=False, level=None, limit_distance=None, limit_level=None,
        order_type="MARKET", quote_id=None, size=1, stop_distance=None, stop_level=None,
        trailing_stop=False, trailing_stop_increment=None)
    check(opened["dealStatus"] == "ACCEPTED", opened)
    deal, ref = opened["dealId"], opened["dealReference"]
    conf = wait_for("CONFIRMS of the open", lambda: [
        c for c in trade_events(trade, "CONFIRMS") if c["dealReference"] == ref])[0]
    check(conf["dealId"] == deal and conf["dealStatus"] == "ACCEPTED", conf)
    check(conf["epic"] == epic and conf["direction"] == "BUY" and Decimal(str(conf["size"])) == 1, conf)
    check(Decimal(str(conf["level"])) == Decimal(str(opened["level"])), (conf, opened))
    opu = wait_for("OPU OPEN", lambda: [
        o for o in trade_events(trade, "OPU") if o["dealId"] == deal and o["status"] == "OPEN"])[0]
    check(opu["dealReference"] == ref and opu["epic"] == epic and opu["expiry"] == expiry, opu)
    check(Decimal(str(opu["level"])) == Decimal(str(opened["level"])), (opu, opened))
    wait_for("ACCOUNT margin after the open", lambda: dec(acct.rows()[-1]["MARGIN"]) > 0)

    bid = ig.fetch_market_by_epic(epic)["snapshot"]["bid"]
    order = ig.create_working_order(
        currency_code=currency, direction="BUY", epic=epic, expiry=expiry,
        guaranteed_stop=False, level=round(bid - 300, 1), size=1,
        time_in_force="GOOD_TILL_CANCELLED", order_type="LIMIT")
    check(order["dealStatus"] == "ACCEPTED", order)
    wou = wait_for("WOU OPEN", lambda: [
        w for w in trade_events(trade, "WOU")
        if w["dealId"] == order["dealId"] and w["status"] == "OPEN"])[0]
    check(wou["orderType"] == "LIMIT" and wou["timeInForce"] == "GOOD_TILL_CANCELLED", wou)
    check(wou["direction"] == "BUY" and wou["epic"] == epic, wou)
    deleted = ig.delete_working_order(order["dealId"])
    check(deleted["dealStatus"] == "ACCEPTED", deleted)
    wait_for("WOU DELETED", lambda: [
        w for w in trade_events(trade, "WOU")
        if w["dealId"] == order["dealId"] and w["status"] == "DELETED"])
    wait_for("CONFIRMS of the order delete", lambda: [
        c for c in trade_events(trade, "CONFIRMS") if c["dealReference"] == deleted["dealReference"]])

    closed = ig.close_open_position(deal_id=deal, direction="SELL", epic=None, expiry=None,
                                    level=None, order_type="MARKET", quote_id=None, size=1)
    check(closed["dealStatus"] == "ACCEPTED", closed)
    close_conf = wait_for("CONFIRMS of the close", lambda: [
        c for c in trade_events(trade, "CONFIRMS")
        if c["dealReference"] == closed["dealReference"]])[0]
    check({"dealId": deal, "status": "FULLY_CLOSED"} in close_conf["affectedDeals"], close_conf)
    wait_for("OPU DELETED", lambda: [
        o for o in trade_events(trade, "OPU") if o["dealId"] == deal and o["status"] == "DELETED"])
    wait_for("ACCOUNT margin back to zero", lambda: dec(acct.rows()[-1]["MARGIN"]) == 0)
    # A DISTINCT TRADE update carries exactly one of its three fields.
    check(all(sum(r[f] is not None for f in ("CONFIRMS", "OPU", "WOU")) == 1 for r in trade.rows()),
          trade.rows())
    return len(trade.rows())


for user, account, epic, expiry, currency in USERS:
    for version in ("2", "3"):
        ig = IGService(user, "sandbox-pass", "sandbox-api-key", acc_type="demo",
                       acc_number=account, return_dataframe=False, return_munch=False)
        stream = IGStreamService(ig)
        stream.create_session(version=version)
        # The client picks WebSocket; v3 sessions are switched to HTTP streaming (the client
        # changes transport on the live connection) so that both transports are covered.
        transport = "WS-STREAMING" if version == "2" else "HTTP-STREAMING"
        stream.ls_client.connectionOptions.setForcedTransport(transport)
        wait_for(f"a {transport} connection",
                 lambda: stream.ls_client.getStatus() == f"CONNECTED:{transport}")
        n_ticks, n_candles = prices_and_charts(ig, stream, account, epic)
        n_trade = dealing(ig, stream, account, epic, expiry, currency)
        check(stream.ls_client.getStatus() == f"CONNECTED:{transport}", stream.ls_client.getStatus())
        stream.disconnect()
        ig.logout()
        print(f"{user} v{version} ({account}) over {transport}: {n_ticks} ticks, "
              f"{n_candles} SECOND candle updates, {n_trade} TRADE updates: OK")
print("trading_ig streaming: OK")
