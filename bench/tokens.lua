-- wrk script: each request carries the next bearer token from a file, so every logout
-- closes its own session. Usage: wrk -t1 -cC -dD -s bench/tokens.lua URL -- tokens.txt METHOD PATH N
-- The file holds the N measured tokens plus one spare per connection: the requests in
-- flight when the N-th completes are real requests too, never repeats of a token.
-- After N responses it stops sending and prints "measured"; the caller then sends SIGINT,
-- which ends wrk's wait early so its duration is the time the requests really took.
local tokens, i, method, path, measured, seen = {}, 0, "GET", "/", 0, 0

function init(args)
  for line in io.lines(args[1]) do tokens[#tokens + 1] = line end
  method, path, measured = args[2], args[3], tonumber(args[4])
end

function request()
  i = i + 1
  return wrk.format(method, path, { ["Authorization"] = "Bearer " .. tokens[math.min(i, #tokens)], ["Content-Length"] = "0" })
end

function response(status, headers, body)
  seen = seen + 1
  if seen == measured then
    wrk.thread:stop()
    io.write("measured\n")
    io.flush()
  end
end

function done(summary, latency, requests)
  local cdf = {}
  for p = 1, 99 do cdf[p] = string.format("%.4f", latency:percentile(p) / 1000) end
  cdf[100] = string.format("%.4f", latency.max / 1000)  -- percentile(100) reads as 0 in wrk 4.1
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "non2xx": %d, "errors": %d, "p50": %.4f, "p95": %.4f, "p99": %.4f, "max": %.4f, "cdf": [%s]}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    table.concat(cdf, ",")))
end
