-- Counts exported flows per protocol and prints a table when the probe exits (the Lua state
-- is closed at exit, which runs the __gc finaliser below).
--   nprobe -i capture.pcap --lua lua/protoCount.lua
local counts = {}

local function count(tbl)
  return function()
    local t = _G[tbl]
    local c = counts[tbl] or { flows = 0 }
    c.flows = c.flows + 1
    counts[tbl] = c
    assert(t["flow.id"])
  end
end

checkDNSFlow = count("dns")
checkDHCPFlow = count("dhcp")
checkRADIUSFlow = count("radius")
checkSIPFlow = count("sip")
checkGTPV1Flow = count("gtpv1")
checkHTTPFlow = count("http")
checkSMTPFlow = count("smtp")
checkIMAPFlow = count("imap")
checkPOPFlow = count("pop")
checkFTPFlow = count("ftp")

report = setmetatable({}, {
  __gc = function()
    local names = {}
    for k in pairs(counts) do names[#names + 1] = k end
    table.sort(names)
    print(string.format("%-10s %10s", "protocol", "flows"))
    for _, k in ipairs(names) do
      print(string.format("%-10s %10d", k, counts[k].flows))
    end
  end,
})
