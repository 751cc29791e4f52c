-- IpAddress and TcpEndpoint tables of Dr.Web's firewall Lua interface (seed 000, "Tables Used in
-- Scripts"; DESIGN.md §5). Loaded by src/lua/drweb.ts into the script's state; receives the
-- internal table I shared by the drweb chunks and fills I.ip, I.endpoint, I.IP, I.EP.
--
-- An address is held as a 128-bit value in two Lua 5.4 integers (hi, lo), IPv4 mapped into
-- ::ffff:0:0/96, so an IPv4 address and its mapped IPv6 form compare and match alike. Addresses
-- coming from connections are parsed lazily (most hooks only read a port or compare text).
local I = ...
local type, tostring, tonumber, error, setmetatable, getmetatable, rawget, rawset, rawequal, select =
  type, tostring, tonumber, error, setmetatable, getmetatable, rawget, rawset, rawequal, select
local find, sub, match, gmatch, format = string.find, string.sub, string.match, string.gmatch, string.format

local IP = {}
IP.__name = "IpAddress"
local EP = {}
EP.__name = "TcpEndpoint"
I.IP, I.EP = IP, EP

local MAPPED = 0xffff << 32 -- lo word of ::ffff:a.b.c.d without the address

-- "a.b.c.d" -> 32-bit integer, or nil.
local function parse4(s)
  local a, b, c, d = match(s, "^(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)$")
  if not a then return nil end
  a, b, c, d = tonumber(a), tonumber(b), tonumber(c), tonumber(d)
  if a > 255 or b > 255 or c > 255 or d > 255 then return nil end
  return (a << 24) | (b << 16) | (c << 8) | d
end

-- "x:y:z" (maybe ending in a dotted quad when last) -> array of 16-bit groups, or nil.
local function groups(part, v4last, out)
  if part == "" then return out end
  local list, n = {}, 0
  for g in gmatch(part .. ":", "([^:]*):") do
    n = n + 1
    list[n] = g
  end
  for i = 1, n do
    local g = list[i]
    if i == n and v4last and find(g, ".", 1, true) then
      local v = parse4(g)
      if not v then return nil end
      out[#out + 1] = v >> 16
      out[#out + 1] = v & 0xffff
    elseif match(g, "^%x%x?%x?%x?$") then
      out[#out + 1] = tonumber(g, 16)
    else
      return nil
    end
  end
  return out
end

local function parse6(s)
  if find(s, "[^%x:%.]") then return nil end
  local g
  local dc = find(s, "::", 1, true)
  if dc then
    local head, tail = sub(s, 1, dc - 1), sub(s, dc + 2)
    if find(tail, "::", 1, true) then return nil end
    local h = groups(head, false, {})
    local t = h and groups(tail, true, {})
    if not t or #h + #t > 7 then return nil end
    g = h
    for _ = 1, 8 - #h - #t do g[#g + 1] = 0 end
    for i = 1, #t do g[#g + 1] = t[i] end
  else
    g = groups(s, true, {})
    if not g or #g ~= 8 then return nil end
  end
  return (g[1] << 48) | (g[2] << 32) | (g[3] << 16) | g[4], (g[5] << 48) | (g[6] << 32) | (g[7] << 16) | g[8]
end

-- text -> hi, lo, v4 (boolean); nil when the text is not an address.
local function parse(s)
  local v = parse4(s)
  if v then return 0, MAPPED | v, true end
  local hi, lo = parse6(s)
  if hi then return hi, lo, false end
  return nil
end
I.parse = parse

local function new(hi, lo, v4)
  return setmetatable({ [1] = hi, [2] = lo, [3] = v4 }, IP)
end

-- Public constructor (dw.ip): a bad string is a Lua error pointing at the caller.
function I.ip(s, level)
  if getmetatable(s) == IP then return s end
  if type(s) ~= "string" then error(format("drweb.ip: address string expected, got %s", type(s)), (level or 1) + 1) end
  local hi, lo, v4 = parse(s)
  if not hi then error(format('drweb.ip: "%s" is not an IPv4 or IPv6 address', s), (level or 1) + 1) end
  return new(hi, lo, v4)
end

-- An address from a connection (trusted text from the probe): parsed on first use.
local function lazy(s)
  return setmetatable({ s = s }, IP)
end

-- hi, lo of an IpAddress, parsing a lazy one on first use.
local function value(a)
  local hi = rawget(a, 1)
  if hi then return hi, rawget(a, 2) end
  local lo, v4
  hi, lo, v4 = parse(rawget(a, "s"))
  if not hi then error(format('drweb: "%s" is not an IPv4 or IPv6 address', tostring(rawget(a, "s"))), 3) end
  rawset(a, 1, hi)
  rawset(a, 2, lo)
  rawset(a, 3, v4)
  return hi, lo
end

local function isv4(a)
  value(a)
  return rawget(a, 3)
end

-- RFC 5952 text: lower-case hex, no leading zeros, the longest run (>= 2) of zero groups as
-- "::" (the first on a tie), IPv4-mapped addresses as ::ffff:a.b.c.d.
local function text(a)
  local hi, lo = value(a)
  if rawget(a, 3) then
    return format("%d.%d.%d.%d", (lo >> 24) & 255, (lo >> 16) & 255, (lo >> 8) & 255, lo & 255)
  end
  if hi == 0 and (lo >> 32) == 0xffff then
    return format("::ffff:%d.%d.%d.%d", (lo >> 24) & 255, (lo >> 16) & 255, (lo >> 8) & 255, lo & 255)
  end
  local g = { (hi >> 48) & 0xffff, (hi >> 32) & 0xffff, (hi >> 16) & 0xffff, hi & 0xffff,
    (lo >> 48) & 0xffff, (lo >> 32) & 0xffff, (lo >> 16) & 0xffff, lo & 0xffff }
  local best, bestlen, i = 0, 1, 1
  while i <= 8 do
    if g[i] == 0 then
      local j = i
      while j < 8 and g[j + 1] == 0 do j = j + 1 end
      if j - i + 1 > bestlen then best, bestlen = i, j - i + 1 end
      i = j + 1
    else
      i = i + 1
    end
  end
  local parts = {}
  if best == 0 then
    for k = 1, 8 do parts[k] = format("%x", g[k]) end
    return table.concat(parts, ":")
  end
  for k = 1, best - 1 do parts[#parts + 1] = format("%x", g[k]) end
  local left = table.concat(parts, ":")
  parts = {}
  for k = best + bestlen, 8 do parts[#parts + 1] = format("%x", g[k]) end
  return left .. "::" .. table.concat(parts, ":")
end

IP.__tostring = function(a)
  local s = rawget(a, "t")
  if not s then
    s = text(a)
    rawset(a, "t", s)
  end
  return s
end
IP.__concat = function(a, b)
  return tostring(a) .. tostring(b)
end
IP.__eq = function(a, b)
  if getmetatable(a) ~= IP or getmetatable(b) ~= IP then return false end
  local ah, al = value(a)
  local bh, bl = value(b)
  return ah == bh and al == bl
end
IP.__band = function(a, b)
  a, b = I.ip(a, 2), I.ip(b, 2)
  local ah, al = value(a)
  local bh, bl = value(b)
  return new(ah & bh, al & bl, isv4(a) and isv4(b))
end

-- Networks: "addr", "addr/prefix" or "addr/mask" -> {hi, lo, mask_hi, mask_lo}. Scripts test
-- the same few constant networks on every connection, so parsed ones are kept (capped).
local nets, nnets, MAX_NETS = {}, 0, 4096

local function network(s, level)
  local n = nets[s]
  if n then return n end
  if type(s) ~= "string" then
    if getmetatable(s) == IP then
      local hi, lo = value(s)
      return { hi, lo, -1, -1 }
    end
    error(format("belongs: network string expected, got %s", type(s)), level + 1)
  end
  local addr, m = match(s, "^%s*([^/%s]+)%s*/%s*([^/%s]+)%s*$")
  if not addr then addr = match(s, "^%s*([^/%s]+)%s*$") end
  local hi, lo, v4
  if addr then hi, lo, v4 = parse(addr) end
  if not hi then error(format('belongs: "%s" is not an address or network (a.b.c.d[/bits|/mask], x:y::z[/bits|/mask])', s), level + 1) end
  local mh, ml = -1, -1
  if m then
    if match(m, "^%d+$") then
      local bits = tonumber(m)
      if bits > (v4 and 32 or 128) then error(format('belongs: prefix length in "%s" is too long', s), level + 1) end
      if v4 then bits = bits + 96 end
      -- Shifts by 64 or more give 0 in Lua 5.4, which makes both ends come out right.
      mh = bits >= 64 and -1 or (-1 << (64 - bits))
      local b2 = bits - 64
      ml = b2 <= 0 and 0 or (-1 << (64 - b2))
    else
      local xh, xl, xv4 = parse(m)
      if not xh or xv4 ~= v4 then error(format('belongs: mask in "%s" is not a %s mask', s, v4 and "dotted IPv4" or "IPv6"), level + 1) end
      if v4 then mh, ml = -1, (-1 << 32) | (xl & 0xffffffff) else mh, ml = xh, xl end
    end
  end
  n = { hi & mh, lo & ml, mh, ml }
  if nnets >= MAX_NETS then nets, nnets = {}, 0 end
  nets[s] = n
  nnets = nnets + 1
  return n
end

local function belongs(a, list, level)
  local hi, lo = value(a)
  if type(list) == "table" and getmetatable(list) ~= IP then
    for i = 1, #list do
      local n = network(list[i], level + 1)
      if (hi & n[3]) == n[1] and (lo & n[4]) == n[2] then return true end
    end
    return false
  end
  local n = network(list, level + 1)
  return (hi & n[3]) == n[1] and (lo & n[4]) == n[2]
end

-- ip.belongs(nets) (the seed's dot call) and ip:belongs(nets) both work: the function is a
-- closure bound to its address, made on first access.
IP.__index = function(a, k)
  if k == "belongs" then
    local f = function(...)
      local first = ...
      if rawequal(first, a) and select("#", ...) >= 2 then return belongs(a, (select(2, ...)), 2) end
      return belongs(a, first, 2)
    end
    rawset(a, "belongs", f)
    return f
  end
  return nil
end

EP.__tostring = function(e)
  local ip = e.ip
  local s = tostring(ip)
  if not isv4(ip) then return "[" .. s .. "]:" .. tostring(e.port) end
  return s .. ":" .. tostring(e.port)
end
EP.__concat = function(a, b)
  return tostring(a) .. tostring(b)
end

-- A TcpEndpoint of a connection: address text as the probe wrote it, port a number.
function I.endpoint(addr, port)
  return setmetatable({ ip = lazy(addr), port = port }, EP)
end
