-- Each request: Authorization: DPoP <token> and the next unused proof from PROOFS
-- (benches/load/dpop_vs_bearer.sh).
local token = os.getenv("TOKEN")
local proofs = {}
for line in io.lines(os.getenv("PROOFS")) do proofs[#proofs + 1] = line end
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", "/me", { ["Authorization"] = "DPoP " .. token, ["DPoP"] = proofs[i] })
end
