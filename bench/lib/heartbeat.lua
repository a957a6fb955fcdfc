-- wrk script for the heartbeat scenario: `wrk -s heartbeat.lua URL -- TOKEN FILE`, FILE holding
-- one registration id a line. Each thread formats every request once, then cycles through them.
local requests = {}
local n = 0
local i = 0

function init(args)
  local headers = { ["Authorization"] = "Bearer " .. args[1], ["Content-Type"] = "application/json" }
  for id in io.lines(args[2]) do
    n = n + 1
    local body = '{"registration_id":"' .. id .. '","status":"healthy",'
      .. '"agents":[{"name":"worker-1","type":"worker","status":"running","task":"Implement auth feature"}],'
      .. '"metrics":{"cpu_percent":45.2,"memory_percent":62.1}}'
    requests[n] = wrk.format("POST", "/api/v1/heartbeat", headers, body)
  end
  i = math.random(n) - 1
end

function request()
  i = (i % n) + 1
  return requests[i]
end
