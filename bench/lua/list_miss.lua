-- The product list page of the repeat scenario (skin type + concern + sort, 24 a page), each
-- request with a filter combination never asked before (a response-cache miss): random skin
-- type, concern, sort and a random minimum price.
-- args: <threads> [q]   (q: a full-text search from a small word list instead of a concern)
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local skin_types = { "oily", "combination", "dry", "normal", "sensitive" }
local concerns = { "enlarged-pores", "dullness", "dehydration", "congestion", "fine-lines",
  "uneven-tone", "sensitivity", "oiliness", "dark-circles", "breakouts" }
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
  local path = string.format("/api/v1/products?per_page=24&skin_type=%s&min_price=%d",
    skin_types[math.random(#skin_types)], math.random(0, 3000))
  if search then
    path = path .. "&q=" .. words[math.random(#words)]
  else
    path = path .. "&concern=" .. concerns[math.random(#concerns)]
      .. "&sort=" .. sorts[math.random(#sorts)]
  end
  return wrk.format("GET", path)
end
