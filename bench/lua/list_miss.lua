-- Product list pages whose filter combination was never asked before (response-cache misses):
-- a random price window, skin type and sort on every request.
-- args: <threads> [q]   (q: also a full-text search term from a small word list)
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local skin_types = { "oily", "combination", "dry", "normal", "sensitive" }
local sorts = { "name", "price", "-price", "newest" }
local words = { "hyaluronic", "serum", "cleanser", "niacinamide", "calming", "vitamin",
  "mask", "barrier", "hydrating", "squalane", "retinal", "clarifying" }
local search = false

setup = common.setup

function init(args)
  search = args[2] == "q"
  math.randomseed(os.time() * 100 + thread_id)
end

request = function()
  local path = string.format(
    "/api/v1/products?per_page=24&skin_type=%s&min_price=%d&max_price=%d",
    skin_types[math.random(#skin_types)], math.random(0, 3000), math.random(6000, 12000))
  if search then
    path = path .. "&q=" .. words[math.random(#words)]
  else
    path = path .. "&sort=" .. sorts[math.random(#sorts)]
  end
  return wrk.format("GET", path)
end
