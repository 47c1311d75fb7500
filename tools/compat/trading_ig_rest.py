"""Unmodified trading_ig (REST) against the scalper sandbox: every endpoint the library
wraps, for v2 and v3 sessions and for the CFD and the spread-bet user.

    scalper sandbox --port 18080 &
    pip install trading_ig==0.0.24
    python3 tools/compat/trading_ig_rest.py [http://127.0.0.1:18080/gateway/deal]

Only the library's base-URL table is pointed at the sandbox; no library code is changed.
Exits non-zero (an AssertionError or the library's exception) on the first difference.
"""
import sys
from datetime import datetime, timedelta

from trading_ig import IGService

URL = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:18080/gateway/deal"
IGService.D_BASE_URL["demo"] = URL

# (user, account, epic, expiry, currency)
USERS = [
    ("sandbox", "SANDBOX-CFD", "CS.D.EURUSD.CFD.IP", "-", "USD"),
    ("sandbox-sb", "SANDBOX-SB", "CS.D.EURUSD.TODAY.IP", "DFB", "GBP"),
]


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def session_and_accounts(ig, version, account):
    login = ig.create_session(version=version)
    if version == "3":
        check(login["accountId"] == account, f"v3 login lands on {login}")
    else:
        check(login["currentAccountId"] == account, f"v2 login lands on {login}")
    s = ig.read_session()
    check(s["accountId"] == account, s)
    s = ig.read_session(fetch_session_tokens="true")
    check(s["accountId"] == account, s)
    accounts = ig.fetch_accounts()["accounts"]
    check({a["accountId"] for a in accounts} == {"SANDBOX-CFD", "SANDBOX-SB"}, accounts)
    check([a["accountId"] for a in accounts if a["preferred"]] == [account], accounts)
    ig.update_account_preferences(trailing_stops_enabled=True)
    check(ig.fetch_account_preferences()["trailingStopsEnabled"] is True, "preferences")
    ig.update_account_preferences(trailing_stops_enabled=False)
    apps = ig.get_client_apps()
    check(apps[0]["apiKey"] == "sandbox-api-key", apps)
    app = ig.update_client_app(60, 100, "sandbox-api-key", "ENABLED")
    check(app["status"] == "ENABLED", app)


def markets(ig, epic):
    m = ig.fetch_market_by_epic(epic)
    check(m["instrument"]["epic"] == epic and m["snapshot"]["bid"] > 0, m)
    both = ig.fetch_markets_by_epics(f"{epic},IX.D.FTSE.DAILY.IP")
    check(len(both) == 2, both)
    snap = ig.fetch_markets_by_epics(epic, detailed=False)
    check(snap[0]["dealingRules"] is None and snap[0]["snapshot"]["offer"] > 0, snap)
    v1 = ig.fetch_markets_by_epics(epic, version="1")
    check(v1[0]["instrument"]["epic"] == epic, v1)
    found = ig.search_markets("EUR/USD")["markets"]
    check(any(f["epic"] == epic for f in found), found)
    v2 = ig.search_markets_v2(epic)["marketDetails"]
    check(v2[0]["instrument"]["epic"] == epic, v2)
    top = ig.fetch_top_level_navigation_nodes()
    check([n["name"] for n in top["nodes"]][0] == "Forex", top)
    sub = ig.fetch_sub_nodes_by_node(top["nodes"][0]["id"])
    leaf = ig.fetch_sub_nodes_by_node(sub["nodes"][0]["id"])
    check(any(x["epic"] == "CS.D.EURUSD.CFD.IP" for x in leaf["markets"]), leaf)
    # IG's names and contract sizes: the standard FX CFD, its mini, the daily-funded bet.
    for e, name, contract in (("CS.D.EURUSD.CFD.IP", "EUR/USD", "100000"),
                              ("CS.D.EURUSD.MINI.IP", "EUR/USD Mini", "10000"),
                              ("CS.D.EURUSD.TODAY.IP", "EUR/USD", "1")):
        i = ig.fetch_market_by_epic(e)["instrument"]
        check((i["name"], i["contractSize"]) == (name, contract), i)
        listed = [x for x in leaf["markets"] + ig.search_markets(name)["markets"] if x["epic"] == e]
        check(listed and all(x["instrumentName"] == name for x in listed), (e, listed))


def prices(ig, epic):
    p = ig.fetch_historical_prices_by_epic(epic, numpoints=5, wait=0)
    check(len(p["prices"]) == 5 and p["metadata"]["allowance"]["totalAllowance"] > 0, p)
    last = p["prices"][-1]["snapshotTimeUTC"]
    start = (datetime.fromisoformat(last) - timedelta(minutes=4)).strftime("%Y-%m-%dT%H:%M:%S")
    r = ig.fetch_historical_prices_by_epic(epic, resolution="MINUTE", start_date=start,
                                           end_date=last, pagesize=2, wait=0)
    check(len(r["prices"]) == 5, r)
    n = ig.fetch_historical_prices_by_epic_and_num_points(epic, "MINUTE", 3)
    check(len(n["prices"]) == 3 and "allowance" in n, n)
    end = datetime.fromisoformat(last)
    s2, e2 = (end - timedelta(minutes=2)).strftime("%Y-%m-%d %H:%M:%S"), end.strftime("%Y-%m-%d %H:%M:%S")
    d = ig.fetch_historical_prices_by_epic_and_date_range(epic, "MINUTE", s2, e2)
    check(len(d["prices"]) == 3, d)
    # v1: the library formats datetimes as yyyy:MM:dd-HH:mm:ss itself.
    d1 = ig.fetch_historical_prices_by_epic_and_date_range(epic, "MINUTE", end - timedelta(minutes=2),
                                                           end, version="1")
    check(len(d1["prices"]) == 3, d1)
    resolutions_agree(ig, epic, last)


def resolutions_agree(ig, epic, now):
    """The last three DAY bars are the aggregate of their HOUR bars. Read with the v2 calls:
    without pandas, trading_ig's v3 call leaves the resolution out of the request."""
    days = ig.fetch_historical_prices_by_epic_and_num_points(epic, "DAY", 3)["prices"]
    first = datetime.strptime(days[0]["snapshotTime"], "%Y/%m/%d %H:%M:%S")
    hours = ig.fetch_historical_prices_by_epic_and_date_range(
        epic, "HOUR", first.strftime("%Y-%m-%d %H:%M:%S"),
        datetime.fromisoformat(now).strftime("%Y-%m-%d %H:%M:%S"))["prices"]
    merged = {}
    for h in hours:
        day = h["snapshotTime"][:10]
        m = merged.setdefault(day, {"open": h["openPrice"], "high": dict(h["highPrice"]),
                                    "low": dict(h["lowPrice"]), "volume": 0})
        for side in ("bid", "ask"):
            m["high"][side] = max(m["high"][side], h["highPrice"][side])
            m["low"][side] = min(m["low"][side], h["lowPrice"][side])
        m["close"] = h["closePrice"]
        m["volume"] += h["lastTradedVolume"]
    check(len(days) == 3 and len(merged) == 3, (days, sorted(merged)))
    for d in days:
        m = merged[d["snapshotTime"][:10]]
        for field in ("open", "high", "low", "close"):
            got = {k: m[field][k] for k in ("bid", "ask")}
            want = {k: d[field + "Price"][k] for k in ("bid", "ask")}
            check(got == want, (epic, d["snapshotTime"], field, got, want))
        check(m["volume"] == d["lastTradedVolume"], (epic, d, m["volume"]))


def dealing(ig, epic, expiry, currency):
    opened = ig.create_open_position(
        currency_code=currency, direction="BUY", epic=epic, expiry=expiry, force_open=True,
        guaranteed_stop=False, level=None, limit_distance=None, limit_level=None,
        order_type="MARKET", quote_id=None, size=1, stop_distance=None, stop_level=None,
        trailing_stop=False, trailing_stop_increment=None)
    check(opened["dealStatus"] == "ACCEPTED", opened)
    deal = opened["dealId"]
    one = ig.fetch_open_position_by_deal_id(deal)
    check(one["position"]["dealId"] == deal, one)
    for version in ("1", "2"):
        pos = ig.fetch_open_positions(version=version)["positions"]
        check(any(p["position"]["dealId"] == deal for p in pos), pos)
    bid = ig.fetch_market_by_epic(epic)["snapshot"]["bid"]
    amended = ig.update_open_position(limit_level=round(bid + 200, 1),
                                      stop_level=round(bid - 200, 1), deal_id=deal)
    check(amended["dealStatus"] == "ACCEPTED", amended)
    closed = ig.close_open_position(deal_id=deal, direction="SELL", epic=None, expiry=None,
                                    level=None, order_type="MARKET", quote_id=None, size=1)
    check(closed["dealStatus"] == "ACCEPTED", closed)
    windows = ig.fetch_repeat_dealing_window(epic=epic)["repeatDealingWindows"]
    check({(w["epic"], w["direction"]) for w in windows} == {(epic, "BUY"), (epic, "SELL")}, windows)
    order = ig.create_working_order(
        currency_code=currency, direction="BUY", epic=epic, expiry=expiry,
        guaranteed_stop=False, level=round(bid - 300, 1), size=1,
        time_in_force="GOOD_TILL_CANCELLED", order_type="LIMIT")
    check(order["dealStatus"] == "ACCEPTED", order)
    for version in ("1", "2"):
        orders = ig.fetch_working_orders(version=version)["workingOrders"]
        check(len(orders) == 1, orders)
    deleted = ig.delete_working_order(order["dealId"])
    check(deleted["dealStatus"] == "ACCEPTED", deleted)
    return deal


def history(ig, deal):
    v3 = ig.fetch_account_activity(detailed=True, deal_id=deal)["activities"]
    check(len(v3) >= 2 and all(a["dealId"] == deal for a in v3), v3)
    flt = ig.fetch_account_activity(fiql_filter="type==WORKING_ORDER")["activities"]
    check(flt and all(a["type"] == "WORKING_ORDER" for a in flt), flt)
    v2 = ig.fetch_account_activity_v2(max_span_seconds=86400)["activities"]
    check(len(v2) >= 4, v2)
    v1 = ig.fetch_account_activity_by_period(86_400_000)["activities"]
    check(len(v1) == len(v2), (v1, v2))
    today = datetime.utcnow()
    by_date = ig.fetch_account_activity_by_date(today - timedelta(days=400), today + timedelta(days=400))
    check(len(by_date["activities"]) == len(v1), by_date)
    t2 = ig.fetch_transaction_history(trans_type="ALL_DEAL", max_span_seconds=86400)
    check(len(t2["transactions"]) >= 1, t2)
    t1 = ig.fetch_transaction_history_by_type_and_period(86_400_000, "ALL")
    check(len(t1["transactions"]) == len(t2["transactions"]), t1)


def watchlists_and_sentiment(ig, epic):
    lists = ig.fetch_all_watchlists()["watchlists"]
    check(any(w["defaultSystemWatchlist"] for w in lists), lists)
    made = ig.create_watchlist("compat", [epic])
    check(made["status"] == "SUCCESS", made)
    wid = made["watchlistId"]
    check(ig.add_market_to_watchlist(wid, "IX.D.FTSE.DAILY.IP")["status"] == "SUCCESS", "add")
    mk = ig.fetch_watchlist_markets(wid)["markets"]
    check([m["epic"] for m in mk] == [epic, "IX.D.FTSE.DAILY.IP"], mk)
    check(ig.remove_market_from_watchlist(wid, epic)["status"] == "SUCCESS", "remove")
    check(ig.delete_watchlist(wid)["status"] == "SUCCESS", "delete")
    s = ig.fetch_client_sentiment_by_instrument("EURUSD")
    check(s["longPositionPercentage"] + s["shortPositionPercentage"] == 100, s)
    many = ig.fetch_client_sentiment_by_instrument(["EURUSD", "GBPUSD"])["clientSentiments"]
    check([x["marketId"] for x in many] == ["EURUSD", "GBPUSD"], many)
    rel = ig.fetch_related_client_sentiment_by_instrument("EURUSD")["clientSentiments"]
    check(rel and all(x["marketId"] != "EURUSD" for x in rel), rel)


def switch(ig, version, account):
    if version != "2":
        return
    other = "SANDBOX-SB" if account == "SANDBOX-CFD" else "SANDBOX-CFD"
    ig.switch_account(other, False)
    check(ig.read_session()["accountId"] == other, "switched")
    ig.switch_account(account, False)


for user, account, epic, expiry, currency in USERS:
    for version in ("2", "3"):
        ig = IGService(user, "sandbox-pass", "sandbox-api-key", acc_type="demo",
                       acc_number=account, return_dataframe=False, return_munch=False)
        session_and_accounts(ig, version, account)
        markets(ig, epic)
        prices(ig, epic)
        deal = dealing(ig, epic, expiry, currency)
        history(ig, deal)
        watchlists_and_sentiment(ig, epic)
        switch(ig, version, account)
        ig.logout()
        print(f"{user} v{version} ({account}): OK")
print("trading_ig REST: OK")
