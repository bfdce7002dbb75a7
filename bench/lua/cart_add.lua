-- Add one unit of a SKU to one of many carts made up front. Request k goes to cart k mod C
-- and SKU (k div C) mod S, so a (cart, SKU) line is raised only every C×S requests and stays
-- far under the per-line cap. args: <threads> <carts file> <skus file>
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local carts, skus, k, step = {}, {}, 0, 1

setup = common.setup

function init(args)
  carts, skus = common.read_lines(args[2]), common.read_lines(args[3])
  k, step = thread_id, tonumber(args[1])
end

request = function()
  local cart = carts[(k % #carts) + 1]
  local sku = skus[(math.floor(k / #carts) % #skus) + 1]
  k = k + step
  return wrk.format("POST", "/api/v1/carts/" .. cart .. "/items",
    { ["Content-Type"] = "application/json" }, '{"sku": "' .. sku .. '", "quantity": 1}')
end
