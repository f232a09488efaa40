"""Signed body pools for the benchmarks (bench/ingest.sh, bench/scaleout.sh).

Usage: python3 bench/pools.py SAMPLES WORK SECRET POOL_ALARM POOL_LOCATION

Writes WORK/alarm-1.pool (one alarm per request, as Mist sends it) and
WORK/location-100.pool (a hundred Wi-Fi location fixes per request), one signed request
per line (`<X-Mist-Signature-v2> <body>`), and the first body of each alone in
WORK/<name>.json. The events are distinct (a server that stores them must index each),
and the same seed gives the same pools.
"""
import hashlib, hmac, json, random, sys
samples, work, secret = sys.argv[1], sys.argv[2], sys.argv[3].encode()
pool_alarm, pool_location = int(sys.argv[4]), int(sys.argv[5])
rng = random.Random(7)

def load(name):
    with open(f"{samples}/{name}", encoding="utf-8") as f:
        return json.load(f)

def write(name, bodies):
    with open(f"{work}/{name}.pool", "w", encoding="utf-8") as pool:
        for i, envelope in enumerate(bodies):
            raw = json.dumps(envelope, separators=(",", ":"))
            sig = hmac.new(secret, raw.encode(), hashlib.sha256).hexdigest()
            pool.write(f"{sig} {raw}\n")
            if i == 0:  # the first body alone, for the probe and the signature check
                with open(f"{work}/{name}.json", "w", encoding="utf-8") as f:
                    f.write(raw)

# (a) one alarm per request, as Mist sends it: an envelope around a one-element list.
alarm = load("alarms__device-restarted_lukeroberson.json")
def alarms():
    for i in range(pool_alarm):
        e = dict(alarm)
        e["id"] = f"{i:08x}-5c5b-4e00-8000-{rng.getrandbits(48):012x}"
        e["aps"] = [f"5c5b35{rng.getrandbits(24):06x}"]
        e["timestamp"] = alarm["timestamp"] + i / 1000
        yield {"topic": "alarms", "events": [e]}
write("alarm-1", alarms())

# (b) a hundred Wi-Fi location fixes per request, for a floor of 5,000 clients.
fix = load("location__wifi_lukeroberson.json")
def locations():
    for i in range(pool_location):
        events = []
        for k in range(100):
            e = dict(fix)
            e["mac"] = f"5c5b35{rng.randrange(5000):06x}"
            e["x"] = round(rng.uniform(0, 120), 5)
            e["y"] = round(rng.uniform(0, 80), 5)
            e["rssi"] = rng.randrange(-90, -40)
            e["timestamp"] = int(fix["timestamp"]) + i
            events.append(e)
        yield {"topic": "location", "events": events}
write("location-100", locations())
