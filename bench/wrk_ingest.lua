-- wrk script for bench/ingest.sh: POSTs signed webhook bodies from a pool of distinct
-- ones, round robin, so that every request carries events the server has not seen.
--
--   wrk -t2 -c64 -d10s --latency -s bench/wrk_ingest.lua URL -- POOL_FILE THREADS
--
-- POOL_FILE holds one request per line: `<X-Mist-Signature-v2 hex> <body>`; the body is
-- sent byte for byte. THREADS is wrk's -t: thread k takes lines k, k+THREADS, ... so
-- the threads do not send the same bodies.
--
-- When the run ends, done() prints one machine-readable line for the shell script:
--   RESULT requests=N duration_us=N errors_status=N errors_other=N p50_us=N p99_us=N
-- errors_status counts every response outside 200..299 (wrk's own counter only sees
-- >= 400); errors_other sums socket errors (connect, read, write, timeout). A second
-- line, STATUS, lists the non-2xx answers by code (`STATUS none` when there were none).

local requests_pool = {}
local next_request = 0

-- Runs in every thread's Lua state, before the first request. `thread_index` is the
-- global setup() gave this thread.
function init(args)
   if #args < 2 then
      error("wrk_ingest.lua: usage: ... -s wrk_ingest.lua URL -- POOL_FILE THREADS")
   end
   local nthreads = tonumber(args[2])
   local line_no = 0
   for line in io.lines(args[1]) do
      if line_no % nthreads == (thread_index or 0) then
         local sig, body = line:match("^(%x+) (.+)$")
         if not sig then
            error("wrk_ingest.lua: line " .. line_no .. " of the pool is not `<hex> <body>`")
         end
         table.insert(requests_pool, wrk.format("POST", nil, {
            ["Content-Type"] = "application/json",
            ["X-Mist-Signature-v2"] = sig,
         }, body))
      end
      line_no = line_no + 1
   end
   if #requests_pool == 0 then
      error("wrk_ingest.lua: no requests for this thread in " .. args[1])
   end
end

function request()
   next_request = next_request % #requests_pool + 1
   return requests_pool[next_request]
end

-- Per-thread tally of non-2xx answers, by status code. Read back in done().
non2xx = 0
codes = {}

function response(status, headers, body)
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
      codes[status] = (codes[status] or 0) + 1
   end
end

local threads = {}

function setup(thread)
   thread:set("thread_index", #threads)
   table.insert(threads, thread)
end

function done(summary, latency, requests)
   local non2xx_total = 0
   local by_code = {}
   for _, thread in ipairs(threads) do
      non2xx_total = non2xx_total + (thread:get("non2xx") or 0)
      for code, n in pairs(thread:get("codes") or {}) do
         by_code[code] = (by_code[code] or 0) + n
      end
   end
   local e = summary.errors
   io.write(string.format(
      "RESULT requests=%d duration_us=%d errors_status=%d errors_other=%d p50_us=%d p99_us=%d\n",
      summary.requests,
      summary.duration,
      non2xx_total,
      e.connect + e.read + e.write + e.timeout,
      latency:percentile(50),
      latency:percentile(99)
   ))
   local parts = {}
   for code, n in pairs(by_code) do
      table.insert(parts, string.format("%d=%d", code, n))
   end
   table.sort(parts)
   if #parts == 0 then
      io.write("STATUS none\n")
   else
      io.write("STATUS " .. table.concat(parts, " ") .. "\n")
   end
end
