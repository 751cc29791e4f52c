-- The drweb modules of Dr.Web's firewall Lua interface (seed 000, "Available Auxiliary Modules";
-- DESIGN.md §5): require "drweb", "drweb.lookup", "drweb.firewall", and the scheduler under
-- them. Loaded by src/lua/drweb.ts after lua/drweb/ip.lua, with the same internal table I.
--
-- Every intercept_hook call and every dw.async function runs in its own coroutine (a task).
-- dw.sleep, Future.wait and a lookup that must wait yield the task back to the scheduler here;
-- the JS side (src/lua/drweb.ts) owns the timers and queries and wakes tasks in batches through
-- __drweb.step(), so a sleeping connection never delays another one or the flow hooks.
local I = ...
local type, tostring, tonumber, error, setmetatable, getmetatable, select, pairs, next =
  type, tostring, tonumber, error, setmetatable, getmetatable, select, pairs, next
local co_create, co_resume, co_status, co_yield, co_running, co_isyieldable, co_close =
  coroutine.create, coroutine.resume, coroutine.status, coroutine.yield, coroutine.running,
  coroutine.isyieldable, coroutine.close
local pack, unpack, concat = table.pack, table.unpack, table.concat
local gsub, format, gmatch, clock = string.gsub, string.format, string.gmatch, os.clock

-- Host functions (src/lua/drweb.ts): taken into locals, removed from the globals.
local h_log, h_kick, h_read, h_lookup, h_take, sethook =
  __drweb_h_log, __drweb_h_kick, __drweb_h_read, __drweb_h_lookup, __drweb_h_take, __drweb_sethook
__drweb_h_log, __drweb_h_kick, __drweb_h_read, __drweb_h_lookup, __drweb_h_take, __drweb_sethook =
  nil, nil, nil, nil, nil, nil

-- --lua-sandbox removed io before this runs (prelude's N.sandbox): files are off limits then.
local sandboxed = (io == nil)

---------------------------------------------------------------------------- scheduler

local D = {} -- entry points for the JS side
__drweb = D
I.D = D

local MAX_TASKS = 100000
I.budget = 1.0 -- seconds of CPU one resume of a task may take (set from --intercept-timeout-ms)
I.minlevel = 2 -- drweb log level filter (info)

local tasks, ntasks, nexttid = {}, 0, 0 -- tid -> task
local byco = setmetatable({}, { __mode = "k" }) -- coroutine -> task
local ready, rhead, rtail = {}, 1, 0 -- tasks to resume (FIFO)
local outbox, nout = {}, 0 -- records for the JS side, joined by \2
local instep, kicked = false, false
I.ntasks = function() return ntasks end

local SLEEP, WAIT, LOOKUP = {}, {}, {} -- yield markers (unique values)
-- The watchdog's error value: readable, since Future.wait re-raises it to the script.
local TIMEOUT = "drweb: stopped: ran past its time budget (--intercept-timeout-ms) without yielding"
I.TIMEOUT = TIMEOUT

-- A record for the JS side. Outside a step (dw.async at load time or in a flow hook) the JS
-- side is asked once for a step soon, which collects it.
local function emit(rec)
  nout = nout + 1
  outbox[nout] = rec
  if not instep and not kicked then
    kicked = true
    h_kick()
  end
end
I.emit = emit

local deadline = math.huge
local function watchdog()
  -- Raised again on every check past the deadline, so a script's pcall cannot swallow it.
  if clock() > deadline then error(TIMEOUT, 0) end
end

local function push_ready(t)
  rtail = rtail + 1
  ready[rtail] = t
  if not instep and not kicked then
    kicked = true
    h_kick()
  end
end

-- The calling task, or an error naming fname when the caller cannot yield to the scheduler
-- (a flow hook, the script's main chunk, a metamethod, a coroutine the script made itself).
local function current(fname, level)
  local co, main = co_running()
  local t = byco[co]
  if main or not t or not co_isyieldable() then
    error(fname .. ": cannot wait here: only inside intercept_hook or a drweb.async function" ..
      " (not in a check<Protocol>Flow hook, at load time, or in a coroutine of the script's own)", level + 1)
  end
  return t
end
I.current = current

local function newtask(fn, conn)
  if ntasks >= MAX_TASKS then return nil end
  nexttid = nexttid + 1
  local t = { tid = nexttid, co = co_create(fn), conn = conn }
  tasks[nexttid] = t
  byco[t.co] = t
  ntasks = ntasks + 1
  return t
end
I.newtask = newtask

local function drop(t)
  if tasks[t.tid] then
    tasks[t.tid] = nil
    ntasks = ntasks - 1
  end
  t.dead = true
end

local finish -- forward

-- Resumes a task once and files what it yielded: a timer for the JS side, a wait on a future,
-- a pending lookup (the JS side already has it), or its end.
local function run(t, ...)
  if t.dead then return end
  local saved = deadline
  local co = t.co
  if sethook then sethook(co, watchdog, "", 1000) end
  deadline = clock() + I.budget
  local r = pack(co_resume(co, ...))
  deadline = saved
  if co_status(co) == "dead" then
    drop(t)
    finish(t, r)
    return
  end
  local what = r[2]
  if what == SLEEP then
    local ms = r[3]
    emit("T\1" .. t.tid .. "\1" .. format("%d", ms))
  elseif what == WAIT then
    local st = r[3]
    st.waiters[#st.waiters + 1] = t
  elseif what == LOOKUP then
    -- woken by the JS side when the query settles
  else
    -- The script yielded by itself (coroutine.yield in intercept_hook): not a request.
    drop(t)
    co_close(co)
    finish(t, { n = 2, false, "intercept_hook yielded outside drweb.sleep, Future.wait or drweb.lookup" })
  end
end
I.run = run

finish = function(t, r)
  if t.conn then
    I.verdict(t.conn, r)
  end
  local st = t.fut
  if st then
    st.done = true
    st.res = r
    local w = st.waiters
    st.waiters = nil
    for i = 1, #w do push_ready(w[i]) end
  end
end

local function drain()
  while rhead <= rtail do
    local t = ready[rhead]
    ready[rhead] = nil
    rhead = rhead + 1
    run(t)
  end
  ready, rhead, rtail = {}, 1, 0
end

-- One JS->Lua crossing: conns (new connections, see lua/intercept.lua), wakes (task ids whose
-- timer fired or lookup settled, space-separated), cancels (connection ids past their time-out).
-- Returns the records the step produced: "V\1conn\1verdict\1cause" and "T\1tid\1ms", \2-joined.
function D.step(conns, wakes, cancels)
  instep, kicked = true, false
  if cancels ~= "" then
    for id in gmatch(cancels, "%d+") do I.cancel(tonumber(id)) end
  end
  if wakes ~= "" then
    for tid in gmatch(wakes, "%d+") do
      local t = tasks[tonumber(tid)]
      if t then push_ready(t) end
    end
  end
  if conns ~= "" then I.start(conns) end
  drain()
  instep = false
  local s = concat(outbox, "\2", 1, nout)
  outbox, nout = {}, 0
  return s
end

function D.config(budget, minlevel)
  I.budget, I.minlevel = budget, minlevel
end

-- Drops a task (its connection timed out); the JS side forgets its timer or pending lookup.
function D.kill(t)
  drop(t)
  if co_status(t.co) == "suspended" then co_close(t.co) end
  emit("K\1" .. t.tid)
end

function D.stats()
  return ntasks
end

---------------------------------------------------------------------------- require "drweb"

local dw = {}
local LEVELS = { debug = 1, info = 2, notice = 3, warning = 4, error = 5 }

function dw.log(level, msg)
  local l = LEVELS[level]
  if not l then error(format('drweb.log: unknown level "%s" (debug, info, notice, warning, error)', tostring(level)), 2) end
  if l >= I.minlevel then h_log(level, tostring(msg)) end
end
for name, l in pairs(LEVELS) do
  dw[name] = function(msg)
    if l >= I.minlevel then h_log(name, tostring(msg)) end
  end
end

function dw.sleep(sec)
  local s = tonumber(sec)
  if not s or s ~= s then error("drweb.sleep: number of seconds expected, got " .. tostring(sec), 2) end
  current("drweb.sleep", 2)
  if s < 0 then s = 0 end
  co_yield(SLEEP, s * 1000)
end

-- Future: {wait = fn}; wait works as f.wait() (the seed) and f:wait(). The state lives in a
-- closure, so the table holds nothing else a script could trip over.
local function wait(st)
  while not st.done do
    local t = current("Future.wait", 3)
    if t == st.task then error("Future.wait: a drweb.async function cannot wait for itself", 3) end
    co_yield(WAIT, st)
  end
  local r = st.res
  if r[1] then return unpack(r, 2, r.n) end
  error(r[2], 0) -- the function's own error, as raised
end

function dw.async(fn, ...)
  local tf = type(fn)
  if tf ~= "function" and not (getmetatable(fn) or {}).__call then
    error("drweb.async: function expected, got " .. tf, 2)
  end
  local st = { done = false, waiters = {} }
  local t = newtask(function(...) return fn(...) end, nil)
  if not t then error(format("drweb.async: too many tasks (%d)", MAX_TASKS), 2) end
  t.fut = st
  st.task = t
  -- Started at once, up to its first sleep/wait/lookup, like a call.
  run(t, ...)
  return { wait = function() return wait(st) end }
end

function dw.ip(s)
  return I.ip(s, 2)
end

local function readlines(fname, path)
  if sandboxed then error(fname .. ": reading files is disabled by --lua-sandbox", 3) end
  local ok, text = h_read(tostring(path))
  if not ok then error(fname .. ": " .. tostring(text), 3) end
  return text -- trimmed non-empty lines joined by \n (the JS side drops blank ones)
end

function dw.load_set(path)
  local set = {}
  for line in gmatch(readlines("drweb.load_set", path), "[^\n]+") do set[line] = true end
  return set
end

function dw.load_array(path)
  local arr, n = {}, 0
  for line in gmatch(readlines("drweb.load_array", path), "[^\n]+") do
    n = n + 1
    arr[n] = line
  end
  return arr
end

---------------------------------------------------------------------------- require "drweb.lookup"

local dwl = {}

-- params {user=, domain=, ...} -> "k\1v\1k\1v" (string keys, values through tostring).
local function encode(params, fname)
  if params == nil then return "" end
  if type(params) ~= "table" then error(fname .. ": parameters must be a table, got " .. type(params), 3) end
  local parts, n = {}, 0
  for k, v in next, params do
    if type(k) == "string" then
      parts[n + 1] = gsub(k, "[\1\2]", "")
      parts[n + 2] = gsub(tostring(v), "[\1\2]", "")
      n = n + 2
    end
  end
  return concat(parts, "\1", 1, n)
end

-- Asks the JS side; answered at once (files, cache hits) or later (LDAP): then the task
-- yields until the query settles. status: "ok" | "err" | "wait".
local function ask(fname, kind, request, params, val)
  if type(request) ~= "string" then error(fname .. ": request (\"type@tag\") expected, got " .. type(request), 3) end
  local p = encode(params, fname)
  local co, main = co_running()
  local t = byco[co]
  local tid = (not main and t and co_isyieldable()) and t.tid or 0
  local status, a, b = h_lookup(tid, kind, request, p, val)
  if status == "wait" then
    co_yield(LOOKUP)
    status, a, b = h_take(tid)
  end
  if status == "err" then error(fname .. ": " .. tostring(a), 3) end
  return a, b
end

function dwl.lookup(request, params)
  local n, joined = ask("drweb.lookup.lookup", "L", request, params, "")
  local out = {}
  if n > 0 then
    local i = 0
    for v in gmatch(joined .. "\1", "([^\1]*)\1") do
      i = i + 1
      out[i] = v
    end
  end
  return out
end

function dwl.check(value, request, params)
  if value == nil then error("drweb.lookup.check: value expected, got nil", 2) end
  local v = tostring(value)
  local yes = ask("drweb.lookup.check", "C", request, params, v)
  return yes == 1
end

---------------------------------------------------------------------------- require "drweb.firewall"

local fw = { PASS = "pass", CHECK = "check", REJECT = "reject", DROP = "drop" }

---------------------------------------------------------------------------- registration

local modules = { drweb = dw, ["drweb.lookup"] = dwl, ["drweb.firewall"] = fw }
if package and package.loaded then
  for name, m in pairs(modules) do package.loaded[name] = m end
elseif require == nil then
  -- --lua-sandbox removed require with the loading of files; the built-in modules stay.
  require = function(name)
    local m = modules[name]
    if m == nil then error(format("module '%s' not available (--lua-sandbox allows drweb, drweb.lookup, drweb.firewall)", tostring(name)), 2) end
    return m
  end
end
I.modules = modules
