-- wrk script: each request carries the next token of the file named by
-- BENCH_TOKENS in Proxy-Authorization: BENCH_TOKENS_COUNT of them from line
-- BENCH_TOKENS_FROM + 1 on (bench.py moves it past what earlier runs used
-- and mints enough for every run), so every request is a token the proxy
-- has never seen; only those are kept in memory.
--
-- The request is built here, Proxy-Authorization last, not by wrk.format():
-- LuaJIT interns every string, and OpenResty's LuaJIT hashes a long string
-- by a few bytes only (the first, the middle, the last; on collisions the
-- first and last 8 and a sample of the first half at positions drawn per
-- process).  wrk.format() ends every request with the same headers, so in
-- some processes all requests hashed alike and each new one was compared
-- with every live one: wrk spent half its time in memcmp and sent at half
-- the rate the proxy could take.  With the token's signature in the last 8
-- bytes the requests hash apart.
local tokens = {}
local from = tonumber(os.getenv("BENCH_TOKENS_FROM") or "0")
local count = tonumber(os.getenv("BENCH_TOKENS_COUNT") or "100000")
local i = 0
local n = 0
local head

for line in io.lines(os.getenv("BENCH_TOKENS")) do
    n = n + 1
    if n > from + count then
        break
    end
    if n > from then
        tokens[#tokens + 1] = line
    end
end

if #tokens == 0 then
    error("no tokens past line " .. from .. " of " .. os.getenv("BENCH_TOKENS"))
end

init = function(args)
    local t = { wrk.method .. " " .. wrk.path .. " HTTP/1.1\r\n" }
    for name, value in pairs(wrk.headers) do
        if name:lower() ~= "proxy-authorization" then
            t[#t + 1] = name .. ": " .. value .. "\r\n"
        end
    end
    t[#t + 1] = "Proxy-Authorization: Bearer "
    head = table.concat(t)
end

request = function()
    i = i % #tokens + 1
    return head .. tokens[i] .. "\r\n\r\n"
end
