-- Drops DNS flows to the internal resolvers before export (returning false suppresses a
-- flow; nothing else changes). Internal resolvers: RFC 1918 and loopback IPv4 addresses,
-- plus any listed in NPROBE_INTERNAL_RESOLVERS (comma-separated addresses).
--   nprobe -i capture.pcap --lua lua/suppressInternalDns.lua --json-out -
local extra = {}
for a in string.gmatch(os.getenv and os.getenv("NPROBE_INTERNAL_RESOLVERS") or "", "[^,%s]+") do
  extra[a] = true
end

local function ipv4(s)
  local a, b, c, d = string.match(s, "^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a then return nil end
  return tonumber(a), tonumber(b), tonumber(c), tonumber(d)
end

local function internal(addr)
  if extra[addr] then return true end
  local a, b = ipv4(addr)
  if not a then return false end
  return a == 10 or a == 127 or (a == 172 and b >= 16 and b <= 31) or (a == 192 and b == 168)
end

function checkDNSFlow()
  if internal(dns["flow.to"]) then
    return false
  end
end
