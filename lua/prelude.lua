-- nprobe's Lua prelude: runs in the script's Lua state before the script itself.
-- The host (src/lua/host.ts) calls __nprobe.run() once per batch of flows, so a flow costs no
-- JS<->Lua crossing of its own: the batch arrives as one binary string (written straight into
-- wasm memory: a JS string would be converted char by char and then parsed by load(), which
-- was most of the cost), the tables are built here, each check<Protocol>Flow is called under
-- pcall with a time budget, and one string comes back with what the hooks said (suppress,
-- changed keys, errors, time-outs).
local load, pcall, next, type, tostring, error = load, pcall, next, type, tostring, error
local setmetatable, rawset, rawget, unpack = setmetatable, rawset, rawget, string.unpack
local concat, floor, clock, sethook = table.concat, math.floor, os.clock, debug.sethook

local TIMEOUT = "\0nprobe:timeout"
local N = {}
__nprobe = N

-- hooks[i] = { fn = "checkDNSFlow", tbl = "dns", keys = {...}, kidx = {key = j},
--              fmts = {j = "<i8" | "<s4"}, call = f(s, p) -> ok, r, t, dt, wrote }
local hooks = {}
-- stats[i] = { calls, errors, timeouts, suppressed, total (s), hist = {log2 us buckets} }
local stats = {}

-- The debug library's setmetatable, kept before a sandbox removes `debug`: it passes the
-- __metatable guard of the flow tables below.
local setmt = debug.setmetatable

-- The watchdog is a count hook set only around a hook's own call: while any hook is set,
-- Lua 5.4 traps every instruction of every Lua function (luaG_traceexec), and over a whole
-- batch that made the prelude's unpacking and table building ~20% slower (bench/lua.js:
-- 3.8 -> 3.5 us per trivial call, the two sethook calls included).
-- Its state lives in a table the hook callers can reach. W.t0: nil
-- outside a hook call; false in a call the watchdog has not seen yet; then the os.clock() of
-- its first visit, 1000 VM instructions into the call. A call is timed from there: os.clock() ticks in
-- milliseconds here (Date.now() underneath) and costs a JS crossing, so reading it twice per
-- call was ~8% of a trivial hook's cost for a reading that was 0 nearly every time; a call
-- too short to meet the watchdog counts 0, as it did, and a long one loses a few microseconds.
local W = { t0 = nil, budget = math.huge }

local function watchdog()
  local t0 = W.t0
  if t0 == false then
    W.t0 = clock()
  elseif t0 and clock() - t0 > W.budget then
    error(TIMEOUT, 0)
  end
end

-- A flow's table is filled on demand. A hook reads a few of its ~20 keys (a trivial one,
-- one): unpacking every value into a Lua string and building a full table was ~45% of a
-- call's cost (bench/lua.js). So the table starts with only its batch string and position
-- (under private keys, SK and PK below), and one metatable per hook: __index unpacks the one
-- value asked for, through the flow's offset table (lua_batch.h), and does not store it, so
-- the table's other entries are exactly what the hook wrote (__newindex stores them).
-- pairs() and deleting a key the flow has turn the table into a plain one holding every
-- value (materialize), as nProbe's tables are; next() and rawget() on a table not yet
-- materialized see only what the hook wrote, and the two private entries. The metatable is
-- guarded (__metatable): a script cannot swap it for one that would lose the values. A
-- table a script keeps stays valid after its call: it holds its batch string.
local function value_of(hk, s, p, j)
  return (unpack(hk.fmts[j], s, p + unpack("<I4", s, p + 2 + 4 * j)))
end

-- The private keys under which a flow's table holds its batch string and position: tables
-- no script can name. The state lives in the table itself, with one metatable per hook:
-- a metatable per flow (and the setmetatable walk for it) cost more than the rest of a call.
local SK, PK = {}, {}

-- Set by anything that may have written to the table of the flow being called: __newindex,
-- materialize (after which writes to keys the table holds go unseen), and rawset, which the
-- script gets wrapped (below). A false alarm only costs a look at the table's own entries;
-- asking next() instead cost a sixth of a trivial call.
local dirty = false

do
  local raw = rawset
  function _G.rawset(t, k, v)
    dirty = true
    return raw(t, k, v)
  end
end

local function lazy_metatable(hk)
  local kidx, keys, fmts = hk.kidx, hk.keys, hk.fmts  -- fmts[j]: "<i8" or "<s4"
  local function materialize(t, skip)
    local s, p = t[SK], t[PK]
    for j = 1, #keys do
      local k = keys[j]
      if k ~= skip and rawget(t, k) == nil then rawset(t, k, value_of(hk, s, p, j)) end
    end
    t[SK], t[PK] = nil, nil
    setmt(t, nil)
    dirty = true
  end
  return {
    __metatable = false,
    __index = function(t, k)
      local j = kidx[k]
      if j == nil then return nil end
      local s, p = t[SK], t[PK]
      -- value_of(), inlined: this is the path of every read
      return (unpack(fmts[j], s, p + unpack("<I4", s, p + 2 + 4 * j)))
    end,
    __newindex = function(t, k, v)
      -- Only keys the table does not hold yet come here: a value (stored), or nil, which for
      -- a key of the flow means deleting it (the table becomes plain, without it).
      dirty = true
      if v ~= nil then rawset(t, k, v)
      elseif kidx[k] then materialize(t, k) end
    end,
    __pairs = function(t)
      materialize(t)
      return next, t, nil
    end,
  }
end

-- For one hook, made once at registration: a function that makes a flow's table, calls the
-- hook under pcall with its time budget, and returns the hook's verdict, the table and
-- whether the hook may have written to it.
local function caller(hk)
  local MT = lazy_metatable(hk)
  local fn, tbl, G = hk.fn, hk.tbl, _G
  return function(s, p)
    local t = setmetatable({ [SK] = s, [PK] = p }, MT)
    G[tbl] = t
    local f = G[fn]
    dirty = false
    W.t0 = false
    sethook(watchdog, "", 1000)
    local ok, r = pcall(f)
    sethook()
    local t0 = W.t0
    W.t0 = nil
    return ok, r, t, t0 and clock() - t0 or 0, dirty
  end
end

function N.register(i, fn, tbl, types, ...)
  local keys = { ... }
  local kidx, fmts = {}, {}
  for j = 1, #keys do
    kidx[keys[j]] = j
    fmts[j] = types:sub(j, j) == "i" and "<i8" or "<s4"
  end
  local hk = { fn = fn, tbl = tbl, keys = keys, kidx = kidx, fmts = fmts }
  hk.call = caller(hk)
  hooks[i] = hk
  stats[i] = { 0, 0, 0, 0, 0.0, {} }
end

function N.defined(fn)
  return type(_G[fn]) == "function"
end

-- Loads the user script under its file name, so errors read "file:line: message".
function N.loadscript(src, name)
  local f, err = load(src, "@" .. name, "t")
  if not f then return err end
  local ok, e = pcall(f)
  if not ok then return tostring(e) end
  return nil
end

-- The result crosses back as one C string split on \1 and \2: those bytes and NUL inside a
-- value or message are shown as \ddd instead of cutting the record.
local function clean(s)
  return (string.gsub(s, "[%z\1\2]", function(c) return string.format("\\%03d", string.byte(c)) end))
end

local function numstr(v)
  if type(v) == "number" then
    if v == floor(v) and v > -2^53 and v < 2^53 then return "n", string.format("%d", v) end
    return "n", string.format("%.17g", v)
  end
  return "s", clean(v)
end

-- A flow whose values do not fit its hook's layout (a float, a string where a number is
-- expected): every value carries its own type byte, 0 integer, 1 float, 2 string. Its table
-- is a plain one holding every value (rare: no need to fill it on demand); orig gets the
-- values as they came.
local function build_tagged(hk, s, p, orig)
  local t, keys = {}, hk.keys
  p = p + 6
  for j = 1, #keys do
    local ty, v
    ty, p = unpack("B", s, p)
    if ty == 0 then v, p = unpack("<i8", s, p)
    elseif ty == 1 then v, p = unpack("<n", s, p)
    else v, p = unpack("<s4", s, p) end
    orig[j] = v
    t[keys[j]] = v
  end
  return t
end

-- s: the batch, per flow: hook index (1 byte), layout (1 byte: 0 the hook's own, 1 tagged),
-- size (u32), then the offsets and values (native/export/lua_batch.h). budget: seconds per
-- call. Returns records separated by \2, fields by \1:
--   S pos | E pos msg | T pos | K pos key type value
-- What a run that failed part way (the memory cap hit while building a table) had done:
-- N.partial() hands it to the host, which applies it and counts the rest as not scripted.
local run_out, run_pos = {}, 0

function N.partial()
  sethook()
  W.t0 = nil
  local r = run_pos .. "\3" .. concat(run_out, "\2")
  run_out, run_pos = {}, 0
  collectgarbage()
  return r
end

function N.run(s, budget)
  local out = {}
  run_out, run_pos = out, 0
  local orig = {}
  local pos = 0
  local p, n = 1, #s
  W.budget = budget
  while p <= n do
    run_pos = pos
    local h, layout, size = unpack("<BBI4", s, p)
    local hk = hooks[h]
    local ok, r, t, dt, wrote
    if layout == 0 then
      ok, r, t, dt, wrote = hk.call(s, p)
    else
      t = build_tagged(hk, s, p, orig)
      _G[hk.tbl] = t
      W.t0 = false
      sethook(watchdog, "", 1000)
      ok, r = pcall(_G[hk.fn])
      sethook()
      local t0 = W.t0
      W.t0 = nil
      dt = t0 and clock() - t0 or 0
      wrote = true  -- a plain table: its entries are compared with orig below
    end
    local st = stats[h]
    st[1] = st[1] + 1
    st[5] = st[5] + dt
    local b = 0
    local us = dt * 1e6
    while us >= 2 and b < 40 do us = us / 2; b = b + 1 end
    st[6][b] = (st[6][b] or 0) + 1
    run_pos = pos + 1  -- counted: a failure from here on does not make it "not scripted"
    if not ok then
      if r == TIMEOUT then
        st[3] = st[3] + 1
        out[#out + 1] = "T\1" .. pos
      else
        st[2] = st[2] + 1
        out[#out + 1] = "E\1" .. pos .. "\1" .. clean(tostring(r))
      end
    else
      if r == false then
        st[4] = st[4] + 1
        out[#out + 1] = "S\1" .. pos
      end
      -- Keys the hook added or changed are exported with the flow. The table's own entries
      -- are what the hook wrote (all of them once materialized, or in the tagged layout):
      -- each is compared with the value as it came in.
      if wrote then
        local kidx = hk.kidx
        for k, v in next, t do
          local j, changed = kidx[k], true
          if j ~= nil then
            if layout == 0 then changed = value_of(hk, s, p, j) ~= v else changed = orig[j] ~= v end
          end
          if changed and type(k) == "string" and (type(v) == "string" or type(v) == "number") then
            local ty, text = numstr(v)
            out[#out + 1] = "K\1" .. pos .. "\1" .. clean(k) .. "\1" .. ty .. "\1" .. text
          end
        end
      end
    end
    _G[hk.tbl] = nil
    p = p + size
    pos = pos + 1
  end
  run_out, run_pos = {}, 0
  return concat(out, "\2")
end

-- Per-hook stats: "i calls errors timeouts suppressed total_s b0:c0,b1:c1,..." lines.
function N.stats()
  local lines = {}
  for i, st in next, stats do
    local h = {}
    for b, c in next, st[6] do h[#h + 1] = b .. ":" .. c end
    lines[#lines + 1] = concat({ i, st[1], st[2], st[3], st[4], string.format("%.9f", st[5]), concat(h, ",") }, " ")
  end
  return concat(lines, "\n")
end

-- Untrusted scripts (--lua-sandbox): no files, no processes, no loading code from disk.
function N.sandbox()
  io = nil
  os.execute, os.remove, os.rename, os.exit, os.tmpname, os.getenv = nil, nil, nil, nil, nil, nil
  dofile, loadfile, require, package = nil, nil, nil, nil
  debug = nil
end

-- Real files. Lua inside WebAssembly sees an in-memory file system, so the host lends the
-- real one: io.open/io.lines/io.write, os.getenv/remove/rename go through __host_* functions
-- (one JS crossing per call, fine for files). Reads load the file once (capped by the host).
do
  local hopen, hwrite, hclose, hgetenv, hremove, hrename =
    __host_open, __host_write, __host_close, __host_getenv, __host_remove, __host_rename
  __host_open, __host_write, __host_close, __host_getenv, __host_remove, __host_rename = nil, nil, nil, nil, nil, nil
  if hopen then
    local File = {}
    File.__index = File
    File.__name = "FILE*"
    local function reader(self, fmt)
      local data, pos = self.data, self.pos
      if data == nil then return nil, "file not open for reading" end
      fmt = fmt or "l"
      if type(fmt) == "string" then fmt = string.gsub(fmt, "^%*", "") end
      if fmt == "a" then
        self.pos = #data + 1
        return string.sub(data, pos)
      elseif type(fmt) == "number" then
        if pos > #data then return nil end
        self.pos = pos + fmt
        return string.sub(data, pos, pos + fmt - 1)
      elseif fmt == "n" then
        local s, e = string.find(data, "^%s*[-+]?%d+%.?%d*[eE]?[-+]?%d*", pos)
        if not s then return nil end
        self.pos = e + 1
        return tonumber(string.sub(data, s, e))
      else
        if pos > #data then return nil end
        local e = string.find(data, "\n", pos, true)
        local line = string.sub(data, pos, (e or #data + 1) - 1)
        self.pos = (e or #data) + 1
        if fmt == "L" and e then line = line .. "\n" end
        return line
      end
    end
    function File:read(...)
      local n = select("#", ...)
      if n == 0 then return reader(self, "l") end
      local out = {}
      for i = 1, n do out[i] = reader(self, (select(i, ...))) end
      return table.unpack(out, 1, n)
    end
    function File:lines(fmt) return function() return reader(self, fmt or "l") end end
    function File:write(...)
      if self.id == nil then return nil, "file not open for writing" end
      for i = 1, select("#", ...) do
        local ok, err = hwrite(self.id, tostring((select(i, ...))))
        if not ok then return nil, err end
      end
      return self
    end
    function File:flush() return self end
    function File:seek() return nil, "seek is not supported" end
    function File:setvbuf() return true end
    function File:close()
      if self.id ~= nil then hclose(self.id); self.id = nil end
      self.data = nil
      return true
    end
    File.__tostring = function(self) return "file (" .. tostring(self.path) .. ")" end
    File.__close = File.close
    io.open = function(path, mode)
      mode = mode or "r"
      local id, content = hopen(tostring(path), mode)
      if id == nil then return nil, content, 2 end
      if id == 0 then return setmetatable({ path = path, data = content, pos = 1 }, File) end
      return setmetatable({ path = path, id = id }, File)
    end
    io.lines = function(path, fmt)
      if path == nil then return io.stdin and io.stdin:lines(fmt) end
      local f, err = io.open(path, "r")
      if not f then error(err, 2) end
      return f:lines(fmt)
    end
    io.write = function(...)
      for i = 1, select("#", ...) do hwrite(-1, tostring((select(i, ...)))) end
      return io
    end
    os.getenv = function(name) return hgetenv(tostring(name)) end
    os.remove = function(path)
      local ok, err = hremove(tostring(path))
      if ok then return true end
      return nil, err
    end
    os.rename = function(a, b)
      local ok, err = hrename(tostring(a), tostring(b))
      if ok then return true end
      return nil, err
    end
  end
end
