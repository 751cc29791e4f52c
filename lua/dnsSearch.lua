-- The example of nProbe's Lua documentation (seed 002), unchanged: prints the dns table of
-- every DNS flow right before it is exported.
--   nprobe -i test/pcap/dns/arkime_dns_wiresharkrepo.pcap --lua lua/dnsSearch.lua --dns-dump-dir /tmp
function checkDNSFlow()
   for k, v in pairs(dns) do
      print('k: '..k..' v: '..v..'\n')
   end
end
