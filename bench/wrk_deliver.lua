-- wrk script for bench/deliver.sh: POSTs every signed webhook body of a pool exactly
-- once, then stops, and says when it started and when the last answer arrived.
--
--   wrk -t2 -c64 -d300s -s bench/wrk_deliver.lua URL -- POOL_FILE THREADS
--
-- POOL_FILE holds one request per line: `<X-Mist-Signature-v2 hex> <body>`; the body is
-- sent byte for byte. THREADS is wrk's -t: thread k takes lines k, k+THREADS, ... and
-- sends each of them once (wrk itself only knows durations, not request counts).
--
-- Once a thread has had an answer to each of its requests it prints
--   DONE thread=K requests=N non2xx=N first_us=T done_us=T
-- (unix microseconds of its first request and of its last answer) and stops. A
-- connection that has nothing left to send waits (delay()) instead of sending anything
-- else, so the server sees exactly the pool. wrk's main thread only notices the end of
-- its -d duration or SIGINT: the caller sends SIGINT once every thread said DONE. Then
-- done() prints
--   RESULT requests=N errors_other=N
-- (requests answered, and socket errors: connect, read, write, timeout).

local ffi = require("ffi")
ffi.cdef [[
   typedef struct { long tv_sec; long tv_usec; } deliver_timeval;
   int gettimeofday(deliver_timeval *tv, void *tz);
]]
local tv = ffi.new("deliver_timeval")

local function now_us()
   ffi.C.gettimeofday(tv, nil)
   return tonumber(tv.tv_sec) * 1000000 + tonumber(tv.tv_usec)
end

local requests_pool = {}
local issued = 0
local answered = 0
local non2xx = 0
local first_us = 0
local finished = false
local verifying = false

function init(args)
   if #args < 2 then
      error("wrk_deliver.lua: usage: ... -s wrk_deliver.lua URL -- POOL_FILE THREADS")
   end
   local nthreads = tonumber(args[2])
   local line_no = 0
   for line in io.lines(args[1]) do
      if line_no % nthreads == (thread_index or 0) then
         local sig, body = line:match("^(%x+) (.+)$")
         if not sig then
            error("wrk_deliver.lua: line " .. line_no .. " of the pool is not `<hex> <body>`")
         end
         table.insert(requests_pool, wrk.format("POST", nil, {
            ["Content-Type"] = "application/json",
            ["X-Mist-Signature-v2"] = sig,
         }, body))
      end
      line_no = line_no + 1
   end
   if #requests_pool == 0 then
      error("wrk_deliver.lua: no requests for this thread in " .. args[1])
   end
   verifying = (thread_index or 0) == 0
end

-- Called before each request: a connection with nothing left to send sleeps (the
-- thread stops long before it wakes).
function delay()
   if issued >= #requests_pool then
      return 3600000
   end
   return 0
end

function request()
   if verifying then
      -- wrk calls request() once in thread 0's state before the run, only to see how
      -- many requests it returns: that call must not use up a body.
      verifying = false
      return requests_pool[1]
   end
   if issued >= #requests_pool then
      -- Only after a socket error made wrk reconnect and ask again: send nothing new.
      return wrk.format("GET", "/healthz")
   end
   if issued == 0 then
      first_us = now_us()
   end
   issued = issued + 1
   return requests_pool[issued]
end

function response(status, headers, body)
   if finished then
      return
   end
   answered = answered + 1
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
   end
   if answered >= #requests_pool then
      finished = true
      io.write(string.format("DONE thread=%d requests=%d non2xx=%d first_us=%d done_us=%d\n",
         thread_index or 0, answered, non2xx, first_us, now_us()))
      io.flush()
      wrk.thread:stop()
   end
end

local threads = {}

function setup(thread)
   thread:set("thread_index", #threads)
   table.insert(threads, thread)
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format("RESULT requests=%d errors_other=%d\n",
      summary.requests, e.connect + e.read + e.write + e.timeout))
end
