-- Tags HTTP flows by the host they asked for: adds http.site_tag, exported with the flow as
-- HTTP_SITE_TAG. The rules are Lua patterns matched against http.host, first match wins.
--   nprobe -i capture.pcap --lua lua/tagHttpHost.lua --json-out -
local rules = {
  { "%.google%.com$", "search" },
  { "%.googleapis%.com$", "cloud-api" },
  { "update", "software-update" },
  { "%.example$", "lab" },
  { "^%d+%.%d+%.%d+%.%d+$", "bare-ip" },
}

function checkHTTPFlow()
  local host = string.lower(http["http.host"] or "")
  local tag = "other"
  if host == "" then tag = "no-host" end
  for _, r in ipairs(rules) do
    if string.find(host, r[1]) then
      tag = r[2]
      break
    end
  end
  http["http.site_tag"] = tag
end
