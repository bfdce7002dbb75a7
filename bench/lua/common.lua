-- Shared by the bench scripts. wrk passes: <thread count> [script arguments].
-- setup() numbers the threads; each thread takes every n-th prepared item (carts, events),
-- so no item is used twice. When a thread runs out it stops and remembers when.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]]

local M = {}
local timespec = ffi.new("bench_timespec")

function M.now()
  ffi.C.clock_gettime(1, timespec) -- CLOCK_MONOTONIC
  return tonumber(timespec.tv_sec) + tonumber(timespec.tv_nsec) * 1e-9
end

function M.read_lines(path)
  local lines = {}
  for line in io.lines(path) do
    if line ~= "" then lines[#lines + 1] = line end
  end
  return lines
end

function M.split(line)
  local fields = {}
  for field in string.gmatch(line, "[^\t]+") do fields[#fields + 1] = field end
  return fields
end

-- main state: keep the threads so done() can read their counters
local threads, numbered = {}, 0
function M.setup(thread)
  thread:set("thread_id", numbered)
  numbered = numbered + 1
  threads[#threads + 1] = thread
end

-- a consumable supply of prepared items, for one thread
function M.supply(items, thread_id, thread_count)
  local mine = {}
  for i = thread_id + 1, #items, thread_count do mine[#mine + 1] = items[i] end
  return { items = mine, next = 1, ok = 0, failed = 0, started = nil, finished = nil,
           ran_out = nil }
end

-- the next item, or nil once all are sent: the script then requests PROBE, a cheap 404
M.PROBE = "/bench-supply-exhausted"
function M.take(supply)
  if supply.started == nil then supply.started = M.now() end
  local item = supply.items[supply.next]
  if item == nil then
    if supply.ran_out == nil then supply.ran_out = M.now() end
    return nil
  end
  supply.next = supply.next + 1
  return item
end

-- wrk's delay(): once the items are all sent, probes go out a few a second, not as fast as
-- the server answers them, so they neither load it nor count in its CPU per item
function M.delay(supply)
  if supply.ran_out then return 100 end
  return 0
end

local function finish(supply, exhausted)
  supply.finished = supply.finished or M.now()
  wrk.thread:set("exhausted", exhausted)
  wrk.thread:set("finished", supply.finished)
  wrk.thread:stop()
end

-- An answer never came for an item this long after the last was sent: wrk lost it (seen once
-- in a few hundred), so stop waiting and report it as unanswered.
local GRACE_SECONDS = 5

-- call from response(): counts the answers to items and stops the thread once every item
-- was answered (or, after GRACE_SECONDS, all but the lost ones)
function M.answered(supply, status, ok)
  if status == 404 then  -- a probe's answer
    if supply.ran_out and M.now() - supply.ran_out > GRACE_SECONDS then finish(supply, 1) end
    return
  end
  if ok then supply.ok = supply.ok + 1 else supply.failed = supply.failed + 1 end
  supply.finished = M.now()
  wrk.thread:set("items", #supply.items)
  wrk.thread:set("ok", supply.ok)
  wrk.thread:set("failed", supply.failed)
  wrk.thread:set("started", supply.started or 0)
  wrk.thread:set("finished", supply.finished)
  if supply.ok + supply.failed >= #supply.items then finish(supply, 1) end
end

-- main state: one summary line for bench/load.py
function M.done()
  local ok, failed, lost, exhausted, first, last = 0, 0, 0, 0, nil, nil
  for _, thread in ipairs(threads) do
    local answered = (thread:get("ok") or 0) + (thread:get("failed") or 0)
    ok = ok + (thread:get("ok") or 0)
    failed = failed + (thread:get("failed") or 0)
    if (thread:get("exhausted") or 0) == 1 then
      exhausted = 1
      lost = lost + (thread:get("items") or 0) - answered
    end
    local started, finished = thread:get("started") or 0, thread:get("finished") or 0
    if started > 0 and (first == nil or started < first) then first = started end
    if finished > 0 and (last == nil or finished > last) then last = finished end
  end
  local elapsed = (first and last) and (last - first) or 0
  io.write(string.format("BENCH_SUPPLY ok=%d failed=%d lost=%d exhausted=%d elapsed=%.3f\n",
    ok, failed, lost, exhausted, elapsed))
end

return M
