-- wrk script: each request carries the next token of the file named by
-- BENCH_TOKENS in Proxy-Authorization, from line BENCH_TOKENS_FROM on
-- (bench.py moves it past what earlier runs used; it wraps around at the
-- end), so every request is a token the proxy has never seen.
local tokens = {}
local i = tonumber(os.getenv("BENCH_TOKENS_FROM") or "0")

for line in io.lines(os.getenv("BENCH_TOKENS")) do
    tokens[#tokens + 1] = "Bearer " .. line
end

request = function()
    i = i % #tokens + 1
    wrk.headers["Proxy-Authorization"] = tokens[i]
    return wrk.format(nil)
end
