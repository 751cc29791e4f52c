-- Writes one CSV line per SIP flow (call or registration) to a file: when, who called whom,
-- the Call-ID, the final response and the codecs. File: NPROBE_SIP_CSV, or sip-calls.csv in
-- the current directory. The header is written when the file is new.
--   nprobe -i capture.pcap --lua lua/sipCalls.lua
local path = (os.getenv and os.getenv("NPROBE_SIP_CSV")) or "sip-calls.csv"

local function csv(v)
  v = tostring(v or "")
  if string.find(v, '[,"\r\n]') then v = '"' .. string.gsub(v, '"', '""') .. '"' end
  return v
end

local exists = io.open(path, "r")
if exists then exists:close() end
local out = assert(io.open(path, "a"))
if not exists then
  out:write("begin,end,call_id,calling,called,response_code,codecs,flow_id\n")
end

function checkSIPFlow()
  out:write(table.concat({
    os.date("!%Y-%m-%dT%H:%M:%SZ", sip["flow.beginTime"]),
    os.date("!%Y-%m-%dT%H:%M:%SZ", sip["flow.endTime"]),
    csv(sip["sip.call_id"]), csv(sip["sip.calling_party"]), csv(sip["sip.called_party"]),
    csv(sip["sip.response_code"]), csv(sip["sip.rtp_codecs"]), sip["flow.id"],
  }, ",") .. "\n")
  out:flush()
end
