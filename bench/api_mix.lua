-- wrk script for bench/api_throughput.py: a mix of wallet operations through the HTTP API.
--   BENCH_USERS_FILE  one line per wallet: "<Authorization header value> <transactionId to reverse part of>"
--   BENCH_RUN_ID      makes Idempotency-Keys and order ids unique across runs
--   BENCH_MIX         "spend,charge,reversal" percentages (default 70,20,10)
-- Prints one JSON line at the end (BENCH_RESULT ...) with the counts by status and the latency percentiles.

local threads = {}

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

local users = {}
local counter = 0
statuses = {}  -- global: done() reads it from each thread
local run_id = os.getenv("BENCH_RUN_ID") or "run"
local spend_pct, charge_pct = 70, 20

function init(args)
  for line in io.lines(os.getenv("BENCH_USERS_FILE")) do
    local auth, tx = line:match("^(.-) (%S+)$")
    table.insert(users, {auth = auth, tx = tx})
  end
  local mix = os.getenv("BENCH_MIX")
  if mix then
    local s, c = mix:match("^(%d+),(%d+),")
    spend_pct, charge_pct = tonumber(s), tonumber(c)
  end
  math.randomseed(os.time() * 1000 + thread_id)
end

function request()
  counter = counter + 1
  local user = users[math.random(#users)]
  local key = run_id .. "-" .. thread_id .. "-" .. counter
  local roll = math.random(100)
  local path, body
  if roll <= spend_pct then
    path = "/api/v1/wallet/spends"
    body = '{"amount": 1, "description": "bench"}'
  elseif roll <= spend_pct + charge_pct then
    path = "/api/v1/wallet/charges"
    body = '{"amount": 1000, "paymentKey": "pk-' .. key .. '", "orderId": "o-' .. key .. '"}'
  else
    path = "/api/v1/wallet/reversals"
    body = '{"transactionId": "' .. user.tx .. '", "amount": 1, "reason": "bench"}'
  end
  return wrk.format("POST", path, {["Authorization"] = user.auth, ["Idempotency-Key"] = key,
                                    ["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local by_status = {}
  for _, thread in ipairs(threads) do
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
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"statuses": {%s}, "socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, table.concat(parts, ", "), e.connect, e.read, e.write, e.timeout))
end
