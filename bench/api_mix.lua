-- wrk script for bench/api_throughput.py: a mix of wallet operations through the HTTP API.
--   BENCH_USERS_FILE  one line per wallet: "<Authorization header value> <transactionId to reverse part of> <username>"
--   BENCH_RUN_ID      makes Idempotency-Keys and order ids unique across runs
--   BENCH_MIX         "spend,charge,reversal,transfer,hold" percentages (default 45,15,10,15,15); each hold
--                     placed is captured (₩1) by a later request of the same thread
--   BENCH_BATCH       N > 0: every request is instead a batch (POST /api/v1/wallet/batches) of N spends (₩1)
-- Prints one JSON line at the end (BENCH_RESULT ...) with the counts by status and the latency percentiles.

local threads = {}

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

local users = {}
local counter = 0
statuses = {}  -- global: done() reads it from each thread
items_done = 0  -- global: a batch's items done (201), summed by done()
local batch_size = tonumber(os.getenv("BENCH_BATCH") or "0")
local run_id = os.getenv("BENCH_RUN_ID") or "run"
local spend_pct, charge_pct, reversal_pct, transfer_pct = 45, 15, 10, 15
local to_capture = {}  -- holds placed by this thread, not captured yet: {id, auth}

function init(args)
  for line in io.lines(os.getenv("BENCH_USERS_FILE")) do
    local auth, tx, name = line:match("^(.-) (%S+) (%S+)$")
    table.insert(users, {auth = auth, tx = tx, name = name})
  end
  local mix = os.getenv("BENCH_MIX")
  if mix then
    local s, c, r, t = mix:match("^(%d+),(%d+),(%d+),(%d+)")
    spend_pct, charge_pct, reversal_pct, transfer_pct = tonumber(s), tonumber(c), tonumber(r), tonumber(t)
  end
  math.randomseed(os.time() * 1000 + thread_id)
end

function request()
  counter = counter + 1
  local index = math.random(#users)
  local user = users[index]
  local key = run_id .. "-" .. thread_id .. "-" .. counter
  local roll = math.random(100)
  local path, body
  if batch_size > 0 then
    local items = {}
    for i = 1, batch_size do
      items[i] = '{"type": "spend", "idempotencyKey": "' .. key .. '-' .. i .. '", "amount": 1, "description": "bench"}'
    end
    return wrk.format("POST", "/api/v1/wallet/batches", {["Authorization"] = user.auth,
                      ["Content-Type"] = "application/json"}, '{"items": [' .. table.concat(items, ", ") .. ']}')
  end
  if #to_capture > 0 and math.random(2) == 1 then
    local hold = table.remove(to_capture, 1)
    return wrk.format("POST", "/api/v1/wallet/holds/" .. hold.id .. "/captures",
                      {["Authorization"] = users[hold.user].auth, ["Idempotency-Key"] = key,
                       ["Content-Type"] = "application/json"}, '{"amount": 1}')
  end
  if roll <= spend_pct or (#users == 1 and roll <= spend_pct + charge_pct + reversal_pct + transfer_pct
                           and roll > spend_pct + charge_pct + reversal_pct) then
    path = "/api/v1/wallet/spends"
    body = '{"amount": 1, "description": "bench"}'
  elseif roll <= spend_pct + charge_pct then
    path = "/api/v1/wallet/charges"
    body = '{"amount": 1000, "paymentKey": "pk-' .. key .. '", "orderId": "o-' .. key .. '"}'
  elseif roll <= spend_pct + charge_pct + reversal_pct then
    path = "/api/v1/wallet/reversals"
    body = '{"transactionId": "' .. user.tx .. '", "amount": 1, "reason": "bench"}'
  elseif roll <= spend_pct + charge_pct + reversal_pct + transfer_pct and #users > 1 then
    path = "/api/v1/wallet/transfers"
    local other = index % #users + 1  -- another user (the next one)
    body = '{"to": "' .. users[other].name .. '", "amount": 1, "message": "bench"}'
  else
    path = "/api/v1/wallet/holds"  -- the description names the user, so that its capture can be sent as them
    body = '{"amount": 1, "description": "u' .. index .. '", "expiresInS": 600}'
  end
  return wrk.format("POST", path, {["Authorization"] = user.auth, ["Idempotency-Key"] = key,
                                    ["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if batch_size > 0 and status == 200 then
    items_done = items_done + tonumber(body:match('"done":(%d+)') or "0")
  end
  if status == 201 then
    local hold_id, user = body:match('"holdId":"([%x-]+)".-"description":"u(%d+)"')
    if hold_id then
      table.insert(to_capture, {id = hold_id, user = tonumber(user)})
    end
  end
end

function done(summary, latency, requests)
  local by_status = {}
  local items = 0
  for _, thread in ipairs(threads) do
    items = items + thread:get("items_done")
    for status, count in pairs(thread:get("statuses")) do
      by_status[status] = (by_status[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(by_status) do
    table.insert(parts, string.format('"%d": %d', status, count))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "items_done": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "statuses": {%s}, "socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}}\n',
    summary.requests, items, summary.duration, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, table.concat(parts, ", "), e.connect, e.read, e.write, e.timeout))
end
