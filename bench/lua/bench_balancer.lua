-- The balancing of ingress-nginx (rootfs/etc/nginx/lua/balancer.lua and
-- balancer/round_robin.lua), reduced to what a request pays for:
--
--   * the endpoints of each backend are kept in the shared dict
--     "configuration_data" (ingress-nginx: the controller POSTs them to
--     /configuration/backends, which stores them there);
--   * every worker checks the dict every second and rebuilds its Lua
--     balancers when the data changed (sync_backends);
--   * rewrite_by_lua: the balancer of $proxy_upstream_name into ngx.ctx;
--   * balancer_by_lua: the next endpoint round robin, "ip:port" split and
--     given to ngx.balancer.set_current_peer(), one more try allowed.
--
-- The data format is one "ip:port" a line instead of JSON (the decode
-- happens on change only, never on a request's path).

local ngx_balancer = require("ngx.balancer")

local _M = {}

local balancers = {}
local backends_raw = nil

local function read_file(path)
    local f = assert(io.open(path, "r"))
    local data = f:read("*a")
    f:close()
    return data
end

-- init_by_lua: what the controller would have POSTed
function _M.init(files)
    local dict = ngx.shared.configuration_data
    local names = {}
    for name, path in pairs(files) do
        dict:set("backend:" .. name, read_file(path))
        names[#names + 1] = name
    end
    table.sort(names)
    dict:set("backends", table.concat(names, ","))
    dict:set("generation", 1)
end

local function new_round_robin(raw)
    local endpoints = {}
    for line in raw:gmatch("[^\n]+") do
        endpoints[#endpoints + 1] = line
    end
    return { endpoints = endpoints, n = #endpoints, next = 0 }
end

local function sync_backends()
    local dict = ngx.shared.configuration_data
    local generation = dict:get("generation")
    if generation == backends_raw then
        return
    end

    local new = {}
    for name in (dict:get("backends") or ""):gmatch("[^,]+") do
        new[name] = new_round_robin(dict:get("backend:" .. name) or "")
    end

    balancers = new
    backends_raw = generation
end

function _M.init_worker()
    sync_backends()
    local ok, err = ngx.timer.every(1, sync_backends)
    if not ok then
        ngx.log(ngx.ERR, "error while setting up timer.every: ", err)
    end
end

function _M.rewrite()
    local balancer = balancers[ngx.var.proxy_upstream_name]
    if not balancer then
        ngx.status = ngx.HTTP_SERVICE_UNAVAILABLE
        return ngx.exit(ngx.status)
    end
    ngx.ctx.balancer = balancer
end

function _M.balance()
    local balancer = ngx.ctx.balancer
    if not balancer then
        return
    end

    balancer.next = balancer.next % balancer.n + 1
    local peer = balancer.endpoints[balancer.next]

    local host, port = peer:match("^(.+):(%d+)$")

    ngx_balancer.set_more_tries(1)

    local ok, err = ngx_balancer.set_current_peer(host, tonumber(port))
    if not ok then
        ngx.log(ngx.ERR, "error while setting current upstream peer ", peer,
                ": ", err)
    end
end

return _M
