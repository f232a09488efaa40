#!/usr/bin/env python3
"""bench/soak.sh's checks and report. Standard library only.

    soak_report.py sites --work DIR    the simulated org's site ids, from the probe's events
    soak_report.py hooks --work DIR --addr A --token T --org O --secret S --sites "S1 S2"
        --org-topics "..." --site-topics "..." --receiver NAME=PORT...   the webhooks
    soak_report.py drained --work DIR --addr HOST:PORT --token T   exit 0 once nothing is
        pending on any webhook or target and every stage's lag is 0 (else why, on stderr)
    soak_report.py collect --work DIR --addr HOST:PORT --token T   what mistgate stored
        (every event, through /api/v1/events), its stats, readiness and outbox (pending and
        dead batches), into DIR
    soak_report.py report --work DIR   (mistgate stopped) the checks and the Markdown report;
        exit 0 PASS, 2 FAIL, 3 the promise held but RSS or disk grew without bound

Event identity: SHA-1 of the canonical topic and the event's canonical JSON (keys sorted,
no spacing), so an event is recognised in a simulator's acknowledged body, in mistgate's
log and in a Mist-format delivery, whatever the spelling. Routed events carry their log
id, incident changes their change id (read from mistgate's incident_changes table,
which no API lists).
"""

import argparse
import collections
import datetime
import glob
import hashlib
import json
import os
import sqlite3
import sys
import urllib.request

IN_FLIGHT_S = 10  # a re-sent batch counts as in flight at a kill if first sent this close before it


def canonical_topic(t):
    return str(t).strip().lower().replace("_", "-").replace(" ", "-")


def ident(topic, event):
    text = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha1(f"{canonical_topic(topic)}\n{text}".encode()).hexdigest()[:24]


def us_of(rfc3339):
    return int(datetime.datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp() * 1e6)


def get(addr, token, path):
    req = urllib.request.Request(f"http://{addr}{path}", headers={"Authorization": f"Token {token}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        if e.code == 503 and path.startswith("/readyz"):
            return json.load(e)
        raise


def webhooks(work):
    out = []
    for line in open(os.path.join(work, "webhooks.tsv")):
        recv, scope, scope_id, hook_id, topics = line.rstrip("\n").split("\t")
        out.append({"recv": recv, "scope": scope, "scope_id": scope_id, "id": hook_id,
                    "topics": set(topics.split())})
    return out


def owners(work):
    """(name, path prefix) of every webhook and target whose outbox is checked."""
    for h in webhooks(work):
        yield f"{h['recv']} {h['scope']}", f"/api/v1/{h['scope']}s/{h['scope_id']}/webhooks/{h['id']}"
    for t in ("events", "incidents"):
        yield f"target {t}", f"/api/v1/targets/{t}"


def batches(addr, token, prefix, state):
    items, cursor = [], None
    for _ in range(10_000):
        q = f"{prefix}/deliveries?state={state}&limit=1000" + (f"&cursor={cursor}" if cursor else "")
        page = get(addr, token, q)
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    return items


def cmd_drained(a):
    ready = get(a.addr, a.token, "/readyz")
    lagging = [f"{s['name']} lag {s['lag_events']}" for s in ready.get("stages", [])
               if s.get("lag_events", 0) > 0 or not s.get("running", True)]
    pending = []
    for name, prefix in owners(a.work):
        page = get(a.addr, a.token, f"{prefix}/deliveries?state=pending&limit=1")
        if page["items"]:
            pending.append(name)
    if lagging or pending:
        print(f"stages: {', '.join(lagging) or 'caught up'}; pending: {', '.join(pending) or 'none'}",
              file=sys.stderr)
        return 1
    return 0


def cmd_sites(a):
    """The site ids in the probe's events (the simulated org of the soak's seed)."""
    sites = set()
    for r in lines(os.path.join(a.work, "recv", "probe.jsonl")):
        for e in json.loads(r["body"]).get("events", []):
            if isinstance(e, dict) and e.get("site_id"):
                sites.add(e["site_id"])
    print("\n".join(sorted(sites)))
    return 0


def cmd_hooks(a):
    """Per receiver: an org webhook with the org-level topics, a site webhook per site with
    the site-only ones; written to webhooks.tsv, creation times to created.json."""
    created = {}
    with open(os.path.join(a.work, "webhooks.tsv"), "w") as tsv:
        for spec in a.receiver:
            name, port = spec.split("=")
            scopes = [("org", a.org, a.org_topics)] + [("site", s, a.site_topics) for s in a.sites.split()]
            for scope, scope_id, topics in scopes:
                path = f"/{name}/org" if scope == "org" else f"/{name}/site/{scope_id}"
                body = json.dumps({"name": f"soak {name}", "url": f"http://127.0.0.1:{port}{path}",
                                   "topics": topics.split(), "secret": a.secret}).encode()
                req = urllib.request.Request(
                    f"http://{a.addr}/api/v1/{scope}s/{scope_id}/webhooks", data=body, method="POST",
                    headers={"Authorization": f"Token {a.token}", "Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=30) as r:
                    hook = json.load(r)
                created[hook["id"]] = hook.get("created_time", 0)
                tsv.write(f"{name}\t{scope}\t{scope_id}\t{hook['id']}\t{topics}\n")
    json.dump(created, open(os.path.join(a.work, "created.json"), "w"))
    return 0


def cmd_collect(a):
    w = a.work
    with open(os.path.join(w, "events.jsonl"), "w") as out:
        cursor, n = None, 0
        while True:
            q = "/api/v1/events?order=asc&limit=1000" + (f"&cursor={cursor}" if cursor else "")
            page = get(a.addr, a.token, q)
            for e in page["items"]:
                out.write(json.dumps({
                    "id": e["id"], "topic": e["topic"], "org_id": e["org_id"], "site_id": e["site_id"],
                    "received_at": us_of(e["received_at"]), "source": e["source"],
                    "h": ident(e["topic"], e["raw"]),
                }) + "\n")
                n += 1
            cursor = page.get("next_cursor")
            if not cursor or not page["items"]:
                break
    json.dump(get(a.addr, a.token, "/api/v1/stats"), open(os.path.join(w, "stats.json"), "w"))
    json.dump(get(a.addr, a.token, "/readyz"), open(os.path.join(w, "readyz.json"), "w"))
    outbox = {}
    for name, prefix in owners(w):
        outbox[name] = {s: batches(a.addr, a.token, prefix, s) for s in ("pending", "dead")}
    json.dump(outbox, open(os.path.join(w, "outbox.json"), "w"))
    print(f"collected {n} events", file=sys.stderr)
    return 0


# ---------------------------------------------------------------------------------------
# The report.

def lines(path):
    if not os.path.exists(path):
        return
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def read_env(work):
    env = {}
    for line in open(os.path.join(work, "run.env")):
        k, _, v = line.rstrip("\n").partition("=")
        env[k] = v
    return env


def sims(work):
    """Per kind (background, scenario, burst): summed simulator summaries."""
    keys = ("messages", "events", "acknowledged", "acknowledged_events", "retries", "failed",
            "failed_events", "pending", "transport_errors")
    out = collections.OrderedDict()
    for kind in ("background", "scenario", "burst"):
        tot = dict.fromkeys(keys, 0)
        tot["runs"] = tot["unreadable"] = 0
        for f in sorted(glob.glob(os.path.join(work, "sims", f"{kind}*.json"))):
            tot["runs"] += 1
            try:
                s = json.loads(open(f).read().strip().splitlines()[-1])
            except (IndexError, ValueError):
                tot["unreadable"] += 1
                continue
            for k in keys:
                tot[k] += s.get(k, 0)
        out[kind] = tot
    return out


def intervals(work):
    kills = []
    for line in open(os.path.join(work, "kills.tsv")):
        f = line.split()
        if len(f) >= 2:
            kills.append((int(f[0]), int(f[1])))
    outages = []
    for line in open(os.path.join(work, "outages.tsv")):
        f = line.rstrip("\n").split("\t")
        if len(f) >= 4 and f[3]:
            outages.append((f[0], f[1], int(f[2]), int(f[3])))
    return kills, outages


def classify_dup(times, recv, kills, outages):
    """Why a batch (one delivery id) was received more than once, from its first two
    receipts: a mistgate kill or a kill of this receiver between them, the first receipt at
    most IN_FLIGHT_S before it."""
    t1, t2 = times[0], times[1]
    for k, _ in kills:
        if t1 <= k <= t2 and k - t1 <= IN_FLIGHT_S * 1e6:
            return "mistgate kill", (k - t1) / 1e6
    for r, mode, start, _ in outages:
        if r == recv and mode == "down" and t1 <= start <= t2 and start - t1 <= IN_FLIGHT_S * 1e6:
            return "receiver kill", (start - t1) / 1e6
    return None, None


def check_receiver(name, deliveries, expected, kills, outages):
    """deliveries: [(t, delivery id, [key...])] of 2xx receipts; expected: set of keys.
    Returns the row of figures and the problems."""
    copies = collections.Counter()
    ids_of = collections.defaultdict(set)
    receipts = collections.defaultdict(list)
    for t, did, keys in deliveries:
        receipts[did].append(t)
        for k in keys:
            copies[k] += 1
            ids_of[k].add(did)
    delivered = set(copies)
    lost = expected - delivered
    unknown = delivered - expected
    dup_events = {k: n for k, n in copies.items() if n > 1}
    resent = {d: sorted(ts) for d, ts in receipts.items() if len(ts) > 1}
    why = collections.Counter()
    worst = 0.0
    unexplained_batches = []
    for d, ts in resent.items():
        reason, gap = classify_dup(ts, name, kills, outages)
        if reason is None:
            unexplained_batches.append(d)
        else:
            why[reason] += 1
            worst = max(worst, gap)
    cross = [k for k in dup_events if len(ids_of[k]) > 1]
    row = {
        "receiver": name, "expected": len(expected), "delivered": len(delivered & expected),
        "lost": len(lost), "unknown": len(unknown), "batches": len(receipts),
        "dup_copies": sum(n - 1 for n in dup_events.values()),
        "resent_batches": len(resent), "why": dict(why), "worst_gap_s": worst,
        "cross_batch": len(cross), "unexplained": len(unexplained_batches),
    }
    problems = []
    if lost:
        problems.append(f"{name}: {len(lost)} expected but never delivered, e.g. {sorted(lost)[:5]}")
    if unknown:
        problems.append(f"{name}: {len(unknown)} delivered but not expected, e.g. {sorted(unknown)[:5]}")
    if cross:
        problems.append(f"{name}: {len(cross)} items delivered in two different batches "
                        f"(different delivery ids), e.g. {sorted(cross)[:5]}")
    if unexplained_batches:
        problems.append(f"{name}: {len(unexplained_batches)} batches received twice with no kill "
                        f"in between, e.g. {unexplained_batches[:3]}")
    return row, problems


def thirds(samples, t0, t_end):
    span = (t_end - t0) / 3
    parts = [[], [], []]
    for s in samples:
        if t0 <= s["t"] <= t_end:
            parts[min(int((s["t"] - t0) / span), 2)].append(s)
    return parts


def resources(work, t0, t_end):
    samples = []
    with open(os.path.join(work, "samples.tsv")) as f:
        next(f)
        for line in f:
            t, pid, rss, hwm, data, wal, ev = (line.rstrip("\n").split("\t") + [""] * 7)[:7]
            samples.append({"t": int(t), "pid": pid, "rss": int(rss or 0), "hwm": int(hwm or 0),
                            "data": int(data or 0), "wal": int(wal or 0),
                            "events": int(ev) if ev else None})
    peak = max((s["hwm"] for s in samples), default=0)
    # Ten steps over the run (the drain after it too): RSS, data dir, events stored.
    timeline, last_t = [], max((s["t"] for s in samples), default=t_end)
    step = max((last_t - t0) / 10, 1)
    for i in range(10):
        part = [s for s in samples if t0 + i * step <= s["t"] <= t0 + (i + 1) * step]
        if part:
            ev = [s["events"] for s in part if s["events"] is not None]
            timeline.append(f"{(t0 + (i + 1) * step - t0) / 60e6:.1f} min: "
                            f"{max(s['rss'] for s in part) / 1024:.0f} MiB RSS, "
                            f"{part[-1]['data'] / 2**20:.0f} MiB data, {ev[-1] if ev else 0:,} events")
    parts = thirds(samples, t0, t_end)
    rows = []
    for name, part in zip(("first", "middle", "last"), parts):
        rss = [s["rss"] for s in part if s["rss"]]
        ev = [s["events"] for s in part if s["events"] is not None]
        rows.append({
            "third": name, "samples": len(part),
            "rss_max": max(rss, default=0) / 1024, "rss_mean": (sum(rss) / len(rss) / 1024) if rss else 0,
            "events_end": ev[-1] if ev else 0, "data_end": part[-1]["data"] / 2**20 if part else 0,
            "wal_max": max((s["wal"] for s in part), default=0) / 2**20,
        })
    mid, last = rows[1], rows[2]
    verdicts, grew = [], False
    d_events = max(last["events_end"] - mid["events_end"], 1)
    growth = last["rss_max"] - mid["rss_max"]
    if mid["rss_max"] and growth > 0.2 * mid["rss_max"] and growth > 10:
        grew = True
        verdicts.append(f"RSS GREW: the last third's peak is {growth:.1f} MiB above the middle "
                        f"third's ({growth * 1024 * 1000 / d_events:.0f} KiB per 1000 events stored)")
    else:
        verdicts.append(f"RSS bounded: the last third's peak {last['rss_max']:.1f} MiB against "
                        f"{mid['rss_max']:.1f} MiB in the middle third ({growth:+.1f} MiB, "
                        f"{growth * 1024 * 1000 / d_events:+.0f} KiB per 1000 events stored)")
    per_mid = mid["data_end"] / max(mid["events_end"], 1) * 2**20
    per_last = last["data_end"] / max(last["events_end"], 1) * 2**20
    if per_mid and per_last > 1.25 * per_mid:
        grew = True
        verdicts.append(f"DISK GREW faster than the data: {per_last:.0f} bytes per stored event at "
                        f"the end against {per_mid:.0f} at the end of the middle third")
    else:
        verdicts.append(f"disk grows with the data only: {per_last:.0f} bytes per stored event at the "
                        f"end, {per_mid:.0f} at the end of the middle third")
    if last["wal_max"] > 2 * max(mid["wal_max"], 1) and last["wal_max"] > 64:
        grew = True
        verdicts.append(f"WAL GREW: {last['wal_max']:.0f} MiB in the last third, "
                        f"{mid['wal_max']:.0f} MiB in the middle one")
    else:
        verdicts.append(f"WAL bounded: at most {max(r['wal_max'] for r in rows):.1f} MiB")
    return peak / 1024, rows, verdicts, grew, timeline


def cmd_report(a):
    w = a.work
    env = read_env(w)
    t0 = int(open(os.path.join(w, "t0")).read())
    t_end = int(open(os.path.join(w, "t_end")).read())
    kills, outages = intervals(w)
    problems = []

    # What mistgate stored.
    stored = {}          # id -> event
    by_hash = collections.defaultdict(list)
    for e in lines(os.path.join(w, "events.jsonl")):
        stored[e["id"]] = e
        by_hash[e["h"]].append(e["id"])
    stats = json.load(open(os.path.join(w, "stats.json")))
    same_ident = sum(len(v) - 1 for v in by_hash.values() if len(v) > 1)

    # Ingest: every event of every acknowledged request must be stored.
    acked_req = acked_ev = 0
    answered = collections.defaultdict(lambda: [0, 0])  # source -> [accepted, duplicates]
    repeats = collections.Counter()  # source -> events already in an acknowledged request
    acked_hashes = set()
    for r in lines(os.path.join(w, "acked.jsonl")):
        acked_req += 1
        body = json.loads(r["body"])
        resp = json.loads(r["resp"])
        source = r["path"].rsplit("/", 1)[-1]
        answered[source][0] += resp.get("accepted", 0)
        answered[source][1] += resp.get("duplicates", 0)
        for e in body.get("events", []):
            acked_ev += 1
            h = ident(body["topic"], e)
            if h in acked_hashes:
                repeats[source] += 1
            acked_hashes.add(h)
    lost_ingest = acked_hashes - by_hash.keys()
    unacked_stored = by_hash.keys() - acked_hashes
    if lost_ingest:
        problems.append(f"ingest: {len(lost_ingest)} acknowledged events not stored, e.g. {sorted(lost_ingest)[:5]}")
    sim = sims(w)
    sim_req = sum(s["acknowledged"] for s in sim.values())
    sim_ev = sum(s["acknowledged_events"] for s in sim.values())

    # Deliveries, per receiver.
    recv = collections.defaultdict(list)   # receiver -> [(t, id, path, body)]
    refused = collections.Counter()
    for name in ("hook-a", "hook-b", "events", "incidents"):
        for r in lines(os.path.join(w, "recv", f"{name}.jsonl")):
            if r["s"] == 200:
                recv[name].append(r)
            else:
                refused[name] += 1
    hooks = webhooks(w)
    created = json.load(open(os.path.join(w, "created.json")))
    rows = []
    for name in ("hook-a", "hook-b"):
        # Per webhook (the path says which): what it subscribes to, and what came.
        expected, got = set(), []
        mine = [h for h in hooks if h["recv"] == name]
        for h in mine:
            since = (created.get(h["id"], 0) - 1) * 1e6
            for e in stored.values():
                if e["topic"] not in h["topics"] or e["received_at"] < since:
                    continue
                if (h["scope"] == "org" and e["org_id"] == h["scope_id"]) or \
                        (h["scope"] == "site" and e["site_id"] == h["scope_id"]):
                    expected.add((h["id"], e["id"]))
        path_hook = {f"/{name}/org": h["id"] for h in mine if h["scope"] == "org"}
        path_hook.update({f"/{name}/site/{h['scope_id']}": h["id"] for h in mine if h["scope"] == "site"})
        for r in recv[name]:
            hook = path_hook.get(r["path"], "?" + r["path"])
            body = json.loads(r["body"])
            keys = []
            for e in body.get("events", []):
                ids = by_hash.get(ident(body.get("topic", ""), e), ["?" + ident(body.get("topic", ""), e)])
                keys.append((hook, ids[0]))
            got.append((r["t"], r["id"], keys))
        row, p = check_receiver(name, got, expected, kills, outages)
        row["kind"] = "Mist webhooks (org + per site), events"
        unmatched = collections.Counter(e["topic"] for e in stored.values()
                                        if not any((h["id"], e["id"]) in expected for h in mine))
        rows.append(row)
        problems += p

    event_topics = set(env.get("event_topics", "").split())
    expected = {e["id"] for e in stored.values() if e["topic"] in event_topics}
    got, mismatched = [], 0
    for r in recv["events"]:
        m = json.loads(r["body"])
        e = stored.get(m.get("id"))
        if e is None or e["h"] != ident(m.get("topic", ""), m.get("raw")):
            mismatched += 1
        got.append((r["t"], r["id"], [m.get("id")]))
    row, p = check_receiver("events", got, expected, kills, outages)
    row["kind"] = "route flow=event, events"
    rows.append(row)
    problems += p
    if mismatched:
        problems.append(f"events: {mismatched} routed events whose id and raw event do not match the log")

    # Incident changes: mistgate's log against what the target received.
    db = sqlite3.connect(f"file:{glob.glob(os.path.join(w, 'data', '*.db'))[0]}?mode=ro", uri=True)
    changes = {}
    for cid, change, record in db.execute("SELECT id, change, record FROM incident_changes ORDER BY id"):
        inc = json.loads(record)
        quiet = inc.get("suppressed") or inc.get("silenced")
        changes[cid] = (change, bool(quiet) and change != "resolved")
    incidents_total = db.execute("SELECT count(*) FROM incidents").fetchone()[0]
    db.close()
    expected = {cid for cid, (_, skip) in changes.items() if not skip}
    got, recv_kinds = [], collections.Counter()
    for r in recv["incidents"]:
        m = json.loads(r["body"])
        got.append((r["t"], r["id"], [m.get("change_id")]))
    seen = set()
    for _, _, keys in got:
        for k in keys:
            if k not in seen:
                seen.add(k)
                recv_kinds[changes.get(k, ("?",))[0]] += 1
    row, p = check_receiver("incidents", got, expected, kills, outages)
    row["kind"] = "route flow=incident, incident changes"
    rows.append(row)
    problems += p
    mg_kinds = collections.Counter(c for c, skip in changes.values() if not skip)

    # Outbox left over.
    outbox = json.load(open(os.path.join(w, "outbox.json")))
    dead = {k: len(v["dead"]) for k, v in outbox.items() if v["dead"]}
    pending = {k: len(v["pending"]) for k, v in outbox.items() if v["pending"]}
    if dead:
        problems.append(f"dead letters: {dead}")
    if pending:
        problems.append(f"still pending after the drain: {pending}")
    if env.get("drained") != "1":
        problems.append("mistgate did not drain within DRAIN_S")
    ready = json.load(open(os.path.join(w, "readyz.json")))
    restarts = {s["name"]: s["restarts"] for s in ready.get("stages", []) if s.get("restarts")}
    if restarts:
        problems.append(f"stages restarted after a panic: {restarts}")

    peak, res_rows, verdicts, grew, timeline = resources(w, t0, t_end)

    # ----------------------------------------------------------------------------------
    out = []
    p = out.append
    p("## mistgate soak")
    p("")
    p(f"- command: `{env['command']}`")
    p(f"- date: {env['date']}; git: {env['git']}")
    p(f"- host: {env['host']}")
    p(f"- traffic for {(t_end - t0) / 60e6:.1f} min; {len(kills)} SIGKILLs of mistgate "
      f"(restart to listening: {', '.join(f'{(b - a) / 1e6:.1f}' for a, b in kills) or '-'} s); "
      f"{len(outages)} receiver outages ({', '.join(f'{r} {m}' for r, m, _, _ in outages) or '-'})")
    p(f"- simulators settled: {'yes' if env.get('settled') == '1' else 'NO'}; mistgate drained: "
      f"{'yes' if env.get('drained') == '1' else 'NO'}")
    p("")
    p("| simulator | runs | messages | events | acknowledged (messages / events) | retries | failed (messages / events) | pending |")
    p("|---|---:|---:|---:|---:|---:|---:|---:|")
    for kind, s in sim.items():
        p(f"| {kind} | {s['runs']}{' (' + str(s['unreadable']) + ' unreadable)' if s['unreadable'] else ''} "
          f"| {s['messages']:,} | {s['events']:,} | {s['acknowledged']:,} / {s['acknowledged_events']:,} "
          f"| {s['retries']:,} | {s['failed']:,} / {s['failed_events']:,} | {s['pending']:,} |")
    p("")
    p("| ingest | figure |")
    p("|---|---:|")
    p(f"| requests acknowledged (simulator summaries / proxy record) | {sim_req:,} / {acked_req:,} |")
    p(f"| events in acknowledged requests (simulators / proxy) | {sim_ev:,} / {acked_ev:,} |")
    p(f"| distinct acknowledged events | {len(acked_hashes):,} |")
    for source, (acc, dup) in sorted(answered.items()):
        p(f"| source `{source}`: events answered as accepted / as duplicates of stored ones | {acc:,} / {dup:,} |")
        p(f"| &nbsp;&nbsp;of the duplicates: sent again after an acknowledged copy (the simulators drew "
          f"the same event twice) / first copy stored but its answer lost (a kill between commit "
          f"and answer) | {repeats[source]:,} / {dup - repeats[source]:,} |")
    p(f"| events stored (/api/v1/stats; read back) | {stats['totals']['events']:,}; {len(stored):,} |")
    p(f"| **acknowledged but not stored (lost)** | **{len(lost_ingest):,}** |")
    p(f"| stored but never acknowledged (answer lost at a kill, flood not retried) | {len(unacked_stored):,} |")
    if same_ident:
        p(f"| stored events sharing an identity with another | {same_ident:,} |")
    p("")
    p("| receiver | what | expected | delivered | **lost** | batches received | refused while failing "
      "| duplicate copies | batches re-sent (why) | in two batches | unexplained |")
    p("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        why = ", ".join(f"{n} at a {k}" for k, n in r["why"].items()) or "-"
        if r["why"]:
            why += f"; first copy at most {r['worst_gap_s']:.2f} s before it"
        p(f"| {r['receiver']} | {r['kind']} | {r['expected']:,} | {r['delivered']:,} | **{r['lost']:,}** "
          f"| {r['batches']:,} | {refused[r['receiver']]:,} | {r['dup_copies']:,} | {r['resent_batches']:,} ({why}) "
          f"| {r['cross_batch']:,} | {r['unexplained']:,} |")
    p("")
    if unmatched:
        p(f"Stored events no webhook of hook-a/hook-b matches (mistgate's rule, as Mist's: an org "
          f"webhook takes events naming its org, a site webhook those naming its site): "
          + ", ".join(f"{t} {n:,}" for t, n in sorted(unmatched.items())) + ".")
    p(f"Incidents: {incidents_total:,} in mistgate; changes routed (mistgate's log, quiet ones "
      f"left out as the routes do) against received: "
      + ", ".join(f"{k} {mg_kinds[k]:,} / {recv_kinds.get(k, 0):,}" for k in sorted(mg_kinds)) + ".")
    p(f"Outbox after the drain: dead {sum(dead.values())}, pending {sum(pending.values())}.")
    p("")
    p(f"Peak RSS of mistgate (VmHWM, every incarnation): **{peak:.1f} MiB**.")
    p("")
    p("| third of the run | samples | RSS max MiB | RSS mean MiB | events stored at its end | data dir MiB at its end | WAL max MiB |")
    p("|---|---:|---:|---:|---:|---:|---:|")
    for r in res_rows:
        p(f"| {r['third']} | {r['samples']} | {r['rss_max']:.1f} | {r['rss_mean']:.1f} | {r['events_end']:,} "
          f"| {r['data_end']:.1f} | {r['wal_max']:.1f} |")
    p("")
    p("Over time (largest RSS in each tenth, data dir and events stored at its end): "
      + "; ".join(timeline) + ".")
    p("")
    for v in verdicts:
        p(f"- {v}")
    p("")
    if problems:
        for x in problems:
            p(f"- !!!!!!!! {x}")
        p("")
    verdict = "FAIL" if problems else "PASS"
    p(f"**{verdict}**: promise: 0 acknowledged events lost, 0 deliveries lost, duplicates only of "
      f"batches in flight at a kill. Lost at ingest {len(lost_ingest)}; lost deliveries "
      f"{sum(r['lost'] for r in rows)}; duplicates outside a kill "
      f"{sum(r['unexplained'] + r['cross_batch'] for r in rows)}; "
      f"resources {'GREW' if grew else 'bounded'}.")
    print("\n".join(out))
    if problems:
        print(f"soak: FAIL ({len(problems)} problems)", file=sys.stderr)
        return 2
    return 3 if grew else 0


def main():
    ap = argparse.ArgumentParser()
    cmds = {"sites": cmd_sites, "hooks": cmd_hooks, "drained": cmd_drained, "collect": cmd_collect,
            "report": cmd_report}
    ap.add_argument("cmd", choices=list(cmds))
    ap.add_argument("--work", required=True)
    for opt in ("--addr", "--token", "--org", "--secret", "--sites", "--org-topics", "--site-topics"):
        ap.add_argument(opt)
    ap.add_argument("--receiver", action="append", default=[], help="NAME=PORT")
    a = ap.parse_args()
    return cmds[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
