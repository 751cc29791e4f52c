-- The bench's hooks: as cheap as a hook can be, so the figures measure the probe's cost of
-- calling Lua (building the tables, crossing into wasm), not the script's.
function checkDNSFlow()
  local q = dns["dns.query"]
end

function checkHTTPFlow()
  local u = http["http.url"]
end
