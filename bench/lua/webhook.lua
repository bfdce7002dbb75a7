-- Deliver signed payment_intent.succeeded events for pending orders, each event once.
-- args: <threads> <events file: one "<signature>\t<json body>" per line>
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local supply

setup = common.setup
done = common.done
delay = function() return common.delay(supply) end

function init(args)
  supply = common.supply(common.read_lines(args[2]), thread_id, tonumber(args[1]))
end

request = function()
  local line = common.take(supply)
  if line == nil then return wrk.format("GET", common.PROBE) end
  local tab = string.find(line, "\t", 1, true)
  return wrk.format("POST", "/api/v1/stripe/webhook", {
    ["Content-Type"] = "application/json",
    ["Stripe-Signature"] = string.sub(line, 1, tab - 1),
  }, string.sub(line, tab + 1))
end

response = function(status, _, body)
  common.answered(supply, status,
    status == 200 and string.find(body, '"duplicate":%s*false') ~= nil)
end
