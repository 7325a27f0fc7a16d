-- Each request: Authorization: Bearer <token> (benches/load/dpop_vs_bearer.sh).
local token = os.getenv("TOKEN")
request = function()
  return wrk.format("GET", "/me", { ["Authorization"] = "Bearer " .. token })
end
