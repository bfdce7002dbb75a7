-- Check out carts prepared up front (one line each), each cart once: order, stock reservation
-- and a PaymentIntent in (local)stripe. args: <threads> <carts file>
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local supply
local body = [[{"email": "bench@example.com", "shipping_method": "uk-standard",
"shipping_address": {"name": "Bench Customer", "line1": "1 Harley Street",
"city": "London", "postcode": "W1G 9QD"}}]]
local headers = { ["Content-Type"] = "application/json" }

setup = common.setup
done = common.done
delay = function() return common.delay(supply) end

function init(args)
  supply = common.supply(common.read_lines(args[2]), thread_id, tonumber(args[1]))
end

request = function()
  local cart = common.take(supply)
  if cart == nil then return wrk.format("GET", common.PROBE) end
  return wrk.format("POST", "/api/v1/carts/" .. cart .. "/checkout", headers, body)
end

response = function(status, _, _)
  common.answered(supply, status, status == 201)
end
