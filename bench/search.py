"""The data and the queries of bench/search.sh.

    python3 bench/search.py load ADDR SECRET EVENTS DAYS FIRST_DAY CONNS SEED
    python3 bench/search.py queries EVENTS DAYS FIRST_DAY KIND N SEED > FILE
    python3 bench/search.py run ADDR TOKEN FILE > RESULTS

The org: one org, SITES sites (200), CLIENTS client MACs (20,000, each one at one site)
and 10 devices (APs) per site. Every request is a Mist envelope of 100 events of one
topic at one site, as Mist sends a site's events; the topics by share of requests:
location 40 %, client-sessions 15 %, client-join 15 %, device-events 15 %,
nac-events 10 %, alarms 5 %.

`load` posts EVENTS events (a multiple of 100) signed with SECRET to ADDR/ingest/bench,
DAYS days of event time, day by day: the events of day k (FIRST_DAY + k, days since the
epoch) have their own `timestamp` spread evenly over 00:00-23:45 of that day, every
timestamp distinct (so no event is a duplicate of another), and all of day k is
acknowledged before day k + 1 is sent (so event ids grow with the day). CONNS keep-alive
connections post at once. Any answer but 200 stops the load (exit 1). Prints one JSON
line: requests, events, seconds, and the requests and events of each day.

`queries` writes N queries of KIND, one `GET` path per line, drawn with SEED from the
same org and days:
  site-1h   topic + site_id + a 1-hour window (since/until) of event time
  site-1d   topic + site_id + a 1-day window
  mac       mac alone (a client or device MAC), newest first
The topic is drawn uniformly from the six, the site uniformly from SITES, the window
uniformly inside the DAYS days, the MAC uniformly from every client and device.

`run` sends the queries of FILE in order on one keep-alive connection (one at a time, so
each latency is one request's whole time, from sending to the last byte of the answer,
measured here), and prints per query: latency in µs, status, the number of items, and a
hash of their ids (to compare the answers of two backends).
"""
import hashlib
import hmac
import http.client
import json
import random
import sys
import threading
import time
import urllib.parse
import zlib

SITES = 200
CLIENTS = 20_000
DEVICES_PER_SITE = 10
PER_BODY = 100
DAY_S = 86_400
SPAN_S = DAY_S - 15 * 60  # event times of a day: 00:00 to 23:45
ORG = "9f7a3c2e-5b1d-4e8a-9c6f-2d4b8e1a7c30"

TOPICS = [
    ("location", 40),
    ("client-sessions", 15),
    ("client-join", 15),
    ("device-events", 15),
    ("nac-events", 10),
    ("alarms", 5),
]


class Org:
    """Sites, clients and devices: the same for every seed (the org does not change)."""

    def __init__(self):
        rng = random.Random(1601)
        self.sites = [
            "%08x-%04x-4%03x-8%03x-%012x"
            % (rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12), rng.getrandbits(12), rng.getrandbits(48))
            for _ in range(SITES)
        ]
        self.maps = ["%032x" % rng.getrandbits(128) for _ in range(SITES)]
        macs = set()
        self.clients = []
        while len(self.clients) < CLIENTS:
            m = "%012x" % rng.getrandbits(48)
            if m not in macs:
                macs.add(m)
                self.clients.append(m)
        # Client i is at site i % SITES; device j of site s is AP 5c5b35<s><j>.
        self.site_clients = [self.clients[s::SITES] for s in range(SITES)]
        self.site_devices = [
            ["5c5b35%04x%02x" % (s, j) for j in range(DEVICES_PER_SITE)] for s in range(SITES)
        ]
        self.devices = [d for ds in self.site_devices for d in ds]


def body(org, topic, s, rng, t0, step):
    """One envelope of PER_BODY events of `topic` at site `s`, event i at t0 + i * step."""
    site = org.sites[s]
    name = "site-%03d" % s
    clients = org.site_clients[s]
    devices = org.site_devices[s]
    out = []
    for i in range(PER_BODY):
        t = t0 + i * step
        if topic == "location":
            out.append(
                '{"mac":"%s","map_id":"%s","rssi":%d,"site_id":"%s","timestamp":%.6f,"type":"wifi","x":%.3f,"y":%.3f}'
                % (rng.choice(clients), org.maps[s], rng.randrange(-90, -40), site, t,
                   rng.uniform(0, 120), rng.uniform(0, 80)))
        elif topic == "client-join":
            ap = rng.choice(devices)
            out.append(
                '{"ap":"%s","ap_name":"ap-%s","band":"5","bssid":"%s","connect":%d,"connect_float":%.3f,'
                '"mac":"%s","org_id":"%s","random_mac":false,"rssi":%d,"site_id":"%s","site_name":"%s",'
                '"ssid":"corp","timestamp":%.6f,"version":2,"wlan_id":"%s"}'
                % (ap, ap[-4:], ap, int(t), t, rng.choice(clients), ORG, rng.randrange(-80, -40),
                   site, name, t, org.maps[s]))
        elif topic == "client-sessions":
            ap = rng.choice(devices)
            d = rng.uniform(30, 20_000)
            out.append(
                '{"ap":"%s","ap_name":"ap-%s","band":"5","client_manufacture":"Apple","connect":%d,'
                '"disconnect":%d,"disconnect_float":%.3f,"duration":%.1f,"mac":"%s","org_id":"%s",'
                '"rssi":%d,"site_id":"%s","site_name":"%s","ssid":"corp","termination_reason":1,'
                '"timestamp":%.6f,"version":2,"wlan_id":"%s"}'
                % (ap, ap[-4:], int(t - d), int(t), t, d, rng.choice(clients), ORG,
                   rng.randrange(-80, -40), site, name, t, org.maps[s]))
        elif topic == "nac-events":
            out.append(
                '{"ap":"%s","auth_type":"eap-tls","mac":"%s","nas_vendor":"juniper-mist","org_id":"%s",'
                '"site_id":"%s","ssid":"corp","timestamp":%.6f,"type":"%s","username":"user%d@example.com"}'
                % (rng.choice(devices), rng.choice(clients), ORG, site, t,
                   rng.choice(("NAC_CLIENT_PERMIT", "NAC_CLIENT_PERMIT", "NAC_CLIENT_DENY", "NAC_SESSION_STARTED")),
                   rng.randrange(5000)))
        elif topic == "device-events":
            ap = rng.choice(devices)
            kind = rng.choice(("AP_CONFIGURED", "AP_RRM_ACTION", "AP_CONFIG_CHANGED_BY_RRM", "AP_RADAR_DETECTED"))
            out.append(
                '{"device_name":"ap-%s","device_type":"ap","mac":"%s","model":"AP45","org_id":"%s",'
                '"site_id":"%s","site_name":"%s","text":"%s on channel %d","timestamp":%.6f,"type":"%s"}'
                % (ap[-4:], ap, ORG, site, name, kind.lower(), rng.choice((36, 40, 44, 48, 149)), t, kind))
        else:  # alarms
            ap = rng.choice(devices)
            out.append(
                '{"aps":["%s"],"count":1,"group":"infrastructure","hostnames":["ap-%s"],"id":"%08x-%04x-4000-8000-%012x",'
                '"org_id":"%s","severity":"info","site_id":"%s","site_name":"%s","timestamp":%.6f,"type":"device_restarted"}'
                % (ap, ap[-4:], rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(48), ORG, site, name, t))
    return ('{"topic":"%s","events":[%s]}' % (topic, ",".join(out))).encode()


def split_days(events, days):
    """Bodies of each day: as even as whole bodies allow."""
    bodies = events // PER_BODY
    return [(k + 1) * bodies // days - k * bodies // days for k in range(days)]


def load(addr, secret, events, days, first_day, conns, seed):
    if events % PER_BODY or events < PER_BODY * days:
        sys.exit(f"search.py: EVENTS must be a multiple of {PER_BODY}, at least {PER_BODY} per day")
    org = Org()
    topics = [t for t, w in TOPICS for _ in range(w)]
    host, port = addr.rsplit(":", 1)
    per_day = split_days(events, days)
    failed = []
    started = time.monotonic()
    report = {"requests": 0, "events": 0, "days": []}
    for k, n in enumerate(per_day):
        day_start = (first_day + k) * DAY_S
        step = SPAN_S / (n * PER_BODY)
        next_body = [0]
        lock = threading.Lock()

        def worker(w):
            rng = random.Random(seed * 1_000_003 + k * 1009 + w)
            c = http.client.HTTPConnection(host, int(port), timeout=120)
            while not failed:
                with lock:
                    j = next_body[0]
                    next_body[0] += 1
                if j >= n:
                    break
                topic = rng.choice(topics)
                raw = body(org, topic, rng.randrange(SITES), rng, day_start + j * PER_BODY * step, step)
                sig = hmac.new(secret, raw, hashlib.sha256).hexdigest()
                c.request("POST", "/ingest/bench", raw,
                          {"Content-Type": "application/json", "X-Mist-Signature-v2": sig})
                r = c.getresponse()
                answer = r.read()
                if r.status != 200:
                    failed.append(f"{r.status} {answer[:300]!r}")
            c.close()

        threads = [threading.Thread(target=worker, args=(w,)) for w in range(conns)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if failed:
            sys.exit(f"search.py: a POST was answered {failed[0]}")
        dt = time.monotonic() - t0
        report["days"].append({"day": first_day + k, "requests": n, "events": n * PER_BODY})
        report["requests"] += n
        report["events"] += n * PER_BODY
        print(f"  day {k + 1}/{days}: {n * PER_BODY:,} events in {dt:.1f} s "
              f"({n * PER_BODY / dt:,.0f} events/s)", file=sys.stderr, flush=True)
    report["seconds"] = round(time.monotonic() - started, 2)
    print(json.dumps(report))


def queries(events, days, first_day, kind, n, seed):
    org = Org()
    rng = random.Random(f"{seed}/{kind}")
    t_first = first_day * DAY_S
    t_last = (first_day + days - 1) * DAY_S + SPAN_S
    width = {"site-1h": 3600, "site-1d": DAY_S}.get(kind)
    macs = org.clients + org.devices
    for _ in range(n):
        if kind == "mac":
            q = {"mac": rng.choice(macs)}
        elif width:
            since = rng.randrange(t_first, t_last - width)
            q = {"topic": rng.choice(TOPICS)[0], "site_id": rng.choice(org.sites),
                 "since": since, "until": since + width}
        else:
            sys.exit(f"search.py: unknown query kind {kind}")
        print("/api/v1/events?" + urllib.parse.urlencode(q))


def run(addr, token, path):
    host, port = addr.rsplit(":", 1)
    c = http.client.HTTPConnection(host, int(port), timeout=300)
    headers = {"Authorization": f"Token {token}"}
    with open(path) as f:
        lines = [l.strip() for l in f if l.strip()]
    for line in lines:
        t0 = time.perf_counter_ns()
        c.request("GET", line, headers=headers)
        r = c.getresponse()
        answer = r.read()
        us = (time.perf_counter_ns() - t0) // 1000
        if r.status == 200:
            ids = [e["id"] for e in json.loads(answer)["items"]]
            print(us, r.status, len(ids), "%08x" % zlib.crc32(json.dumps(ids).encode()), flush=True)
        else:
            print(us, r.status, 0, "-", flush=True)
            print(f"search.py: {line} answered {r.status}: {answer[:300]!r}", file=sys.stderr)


def log_lines(path):
    """mistgate's JSON log lines (`--log-format json`), skipping anything else."""
    with open(path, errors="replace") as f:
        for line in f:
            try:
                yield json.loads(line)
            except ValueError:
                continue


def micros(stamp):
    """tracing's RFC 3339 timestamp (UTC, µs) as unix µs."""
    from datetime import datetime
    d = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return int(d.timestamp()) * 1_000_000 + d.microsecond


def pruned(path):
    """The first pass of the pruner in a mistgate log: from the line saying this instance
    runs the stage (the pass starts right after it: the pruner's first tick is immediate)
    to the line reporting what the pass removed. Prints JSON, or nothing when the pass
    has not reported yet."""
    start = None
    for l in log_lines(path):
        f = l.get("fields", {})
        if f.get("message", "").startswith("this instance holds the stage") and f.get("stage") == "pruner":
            start = micros(l["timestamp"])
        elif f.get("message") == "retention pruned old rows" and start is not None:
            end = micros(l["timestamp"])
            out = {k: f.get(k) for k in ("requests", "events", "quarantine", "fingerprints")}
            out["seconds"] = round((end - start) / 1e6, 3)
            print(json.dumps(out))
            return


def pg_statements(path, offset):
    """`duration: X ms  execute NAME: SQL` lines of PostgreSQL's log after byte `offset`,
    with their pid and bound parameters: [(pid, ms, sql, params)]."""
    import re
    head = re.compile(r"^\S+ \S+ \S+ \[(\d+)\] (LOG|DETAIL):  (.*)$")
    out = []
    with open(path, "rb") as f:
        f.seek(offset)
        text = f.read().decode(errors="replace")
    current = None  # the entry the log's continuation lines (a statement's next lines) extend
    for line in text.splitlines():
        m = head.match(line)
        if not m:
            if current is not None:
                current[2] += "\n" + line
            continue
        pid, kind, msg = m.groups()
        current = None
        if kind == "LOG":
            d = re.match(r"duration: ([\d.]+) ms  (?:execute [^:]+|statement): (.*)$", msg)
            if d:
                current = [int(pid), float(d.group(1)), d.group(2), None]
                out.append(current)
        elif kind == "DETAIL" and msg.startswith("parameters: ") and out and out[-1][0] == int(pid):
            out[-1][3] = re.findall(r"\$\d+ = (NULL|'(?:[^']|'')*')", msg)
    return out


def pg_prune(path, offset):
    """The statements of the pruner's transaction in PostgreSQL's log (after `offset`):
    from its advisory lock to its COMMIT, each with its duration."""
    stmts = pg_statements(path, offset)
    # The pass lists the day partitions (pg_inherits) right after taking the append lock.
    listing = next((i for i, s in enumerate(stmts) if "pg_inherits" in s[2]), None)
    if listing is None:
        return
    pid = stmts[listing][0]
    first = max(i for i in range(listing + 1)
                if stmts[i][0] == pid and "pg_advisory_xact_lock" in stmts[i][2])
    total = 0.0
    for _, ms, sql, _ in [s for s in stmts[first:] if s[0] == pid]:
        sql = " ".join(sql.split())
        total += ms
        print(f"| {ms:,.1f} | `{sql[:150]}` |")
        if sql == "COMMIT":
            break
    print(f"| **{total:,.1f}** | sum of the transaction's statements |")


def pg_explain(path, offset, needle, width=0):
    """A psql script: a logged statement containing `needle` (for a site query, the first
    with a window of `width` seconds and topic `location`, the biggest; else the first),
    prepared as sqlx prepares it (a named statement, cached by the connection), and
    EXPLAIN (ANALYZE, BUFFERS) of it twice: as its first execution (a plan made for its
    values), and again after five executions with the parameters of other logged ones of
    the same kind (from the sixth, PostgreSQL may keep one generic plan for a prepared
    statement, as it may for mistgate's cached ones)."""
    stmts = [s for s in pg_statements(path, offset) if needle in s[2] and s[3] is not None]
    if width:  # one kind of site query: its window's width, and its topic `location`
        value = lambda p: int(p.strip("'"))
        stmts = [s for s in stmts if value(s[3][3]) - value(s[3][2]) == width * 1_000_000]
        chosen = next((s for s in stmts if s[3][0] == "'location'"), stmts[0] if stmts else None)
    else:
        chosen = stmts[0] if stmts else None
    others = [s for s in stmts if s is not chosen]
    if chosen is None or len(others) < 5:
        sys.exit(f"search.py: fewer than 6 logged statements with {needle!r} (width {width})")
    sql, params = chosen[2], ", ".join(chosen[3])
    print(f"PREPARE q AS {sql};")
    print("\\echo '-- parameters:' " + " ".join(f"'{p}'" for p in chosen[3]).replace("''", ""))
    print("\\echo '-- first execution (a plan for these values):'")
    print(f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE q({params});")
    print("\\o /dev/null")
    for s in others[:5]:
        print(f"EXECUTE q({', '.join(s[3])});")
    print("\\o")
    print("\\echo '-- seventh execution (after six; $n in a condition: the generic plan):'")
    print(f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE q({params});")


def eqp():
    """SQLite's EXPLAIN QUERY PLAN rows (id|parent|notused|detail) on stdin as a tree."""
    depth = {0: -1}
    for line in sys.stdin:
        id_, parent, _, detail = line.rstrip("\n").split("|", 3)
        depth[int(id_)] = depth.get(int(parent), -1) + 1
        print("  " * depth[int(id_)] + detail)


def summary(names_files):
    """Per (backend, kind) results files: percentiles, and checks that every backend gave
    the same answers. Prints JSON."""
    out = {}
    for name, path in names_files:
        rows = [l.split() for l in open(path) if l.strip()]
        lat = sorted(int(r[0]) for r in rows)
        def pct(p):
            return lat[max(0, -(-len(lat) * p // 100) - 1)] / 1000
        out[name] = {
            "n": len(rows), "non200": sum(r[1] != "200" for r in rows),
            "p50": pct(50), "p90": pct(90), "p99": pct(99), "max": lat[-1] / 1000,
            "items": sum(int(r[2]) for r in rows) / max(1, len(rows)),
            "full": sum(int(r[2]) == 100 for r in rows),
            "answers": [r[2] + ":" + r[3] for r in rows],
        }
    print(json.dumps(out))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "load":
        load(args[0], args[1].encode(), int(args[2]), int(args[3]), int(args[4]), int(args[5]), int(args[6]))
    elif cmd == "queries":
        queries(int(args[0]), int(args[1]), int(args[2]), args[3], int(args[4]), args[5])
    elif cmd == "run":
        run(args[0], args[1], args[2])
    elif cmd == "pruned":
        pruned(args[0])
    elif cmd == "pg-prune":
        pg_prune(args[0], int(args[1]))
    elif cmd == "pg-explain":
        pg_explain(args[0], int(args[1]), args[2], int(args[3]) if len(args) > 3 else 0)
    elif cmd == "eqp":
        eqp()
    elif cmd == "summary":
        summary([a.split("=", 1) for a in args])
    else:
        sys.exit(f"search.py: unknown command {cmd}")
