"""The official Lightstreamer Python client (lightstreamer-client-lib, as trading_ig's
IGStreamService uses it) against the scalper sandbox's streaming server.

    scalper sandbox --port 18080 &
    pip install trading_ig lightstreamer-client-lib
    python3 tools/compat/lightstreamer_official.py [http://127.0.0.1:18080/gateway/deal]
"""
import sys
import time

import trading_ig.rest as rest

URL = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:18080/gateway/deal"
rest.D_BASE_URL["demo"] = URL
from lightstreamer.client import Subscription, SubscriptionListener  # noqa: E402
from trading_ig import IGService, IGStreamService  # noqa: E402

ig = IGService("sandbox", "sandbox-pass", "sandbox-api-key", acc_type="demo",
               acc_number="SANDBOX-CFD", return_dataframe=False, return_munch=False)
stream = IGStreamService(ig)
stream.create_session(version="2")
updates = []
errors = []


class Listener(SubscriptionListener):
    def onItemUpdate(self, update):
        updates.append((update.getItemName(), update.getValue("BIDPRICE1"),
                        update.getValue("ASKPRICE1"), update.getValue("TIMESTAMP")))

    def onSubscriptionError(self, code, message):
        errors.append((code, message))


sub = Subscription(mode="MERGE",
                   items=["PRICE:SANDBOX-CFD:CS.D.EURUSD.CFD.IP", "PRICE:SANDBOX-CFD:CS.D.GBPUSD.CFD.IP"],
                   fields=["BIDPRICE1", "ASKPRICE1", "TIMESTAMP"])
sub.setDataAdapter("Pricing")
sub.addListener(Listener())
stream.ls_client.subscribe(sub)
deadline = time.time() + 15
while time.time() < deadline and len(updates) < 5 and not errors:
    time.sleep(0.2)
stream.disconnect()
assert not errors, errors
assert len(updates) >= 5, updates
print(f"official Lightstreamer client: {len(updates)} updates, e.g. {updates[0]}")
print("lightstreamer-client-lib: OK")
