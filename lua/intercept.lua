-- The connection hook's Lua side (seed 000 "InterceptContext table"; DESIGN.md §5): builds ctx
-- for each connection of a batch and runs intercept_hook(ctx) as a task of the drweb scheduler
-- (lua/drweb/runtime.lua). A batch arrives as one string (one JS->Lua crossing, see
-- src/lua/intercept.ts); verdicts leave in the step's result.
local I = ...
local setmetatable, rawget, rawset, tostring, type, gmatch, gsub, tonumber =
  setmetatable, rawget, rawset, tostring, type, string.gmatch, string.gsub, tonumber
local endpoint, newtask, run, emit = I.endpoint, I.newtask, I.run, I.emit

local h_owner = __drweb_h_owner
__drweb_h_owner = nil

local DIVERT = { i = "input", o = "output", f = "forward" }
local VERDICTS = { pass = true, check = true, reject = true, drop = true }
local OWNER_KEYS = { uid = true, gid = true, user = true, group = true, pid = true, exe_path = true }

local conntask = {} -- connection id -> task (entries removed when the task ends or is cancelled)

-- The lazy owner fields: the first read of one of them asks the JS side once (one crossing)
-- for all six; nil ones stay nil. pending[ctx] = connection id until then.
local pending = setmetatable({}, { __mode = "k" })
local LAZY = {
  __index = function(ctx, k)
    if OWNER_KEYS[k] then
      local id = pending[ctx]
      if id then
        pending[ctx] = nil
        local uid, gid, user, group, pid, exe = h_owner(id)
        rawset(ctx, "uid", uid)
        rawset(ctx, "gid", gid)
        rawset(ctx, "user", user)
        rawset(ctx, "group", group)
        rawset(ctx, "pid", pid)
        rawset(ctx, "exe_path", exe)
        return rawget(ctx, k)
      end
    end
    return nil
  end,
}

local function hook(ctx)
  local f = intercept_hook
  if type(f) ~= "function" then error("intercept_hook is not defined", 0) end
  return f(ctx)
end

local function clean(s)
  return (gsub(s, "[%z\1\2]", function(c) return string.format("\\%03d", string.byte(c)) end))
end

-- Called by the scheduler when a connection's task ends, with pack(coroutine.resume(...)).
function I.verdict(conn, r)
  conntask[conn] = nil
  local ok, v = r[1], r[2]
  if not ok then
    if v == I.TIMEOUT then
      emit("V\1" .. conn .. "\1\1timeout")
    else
      emit("V\1" .. conn .. "\1\1error: " .. clean(tostring(v)))
    end
  elseif v == nil then
    emit("V\1" .. conn .. "\1\1nil")
  elseif VERDICTS[v] then
    emit("V\1" .. conn .. "\1" .. v)
  else
    emit("V\1" .. conn .. '\1\1unknown verdict "' .. clean(tostring(v)) .. '"')
  end
end

-- Batch format (src/lua/intercept.ts): per connection, fields joined by \1 and ended by \2:
--   id, src, sport, dst, dport, divert (i|o|f), iface_in, iface_out, owner (1 = callback)
local PAT = "(%d+)\1([^\1]*)\1(%d+)\1([^\1]*)\1(%d+)\1(%a)\1([^\1]*)\1([^\1]*)\1(%d)\2"
function I.start(batch)
  for id, src, sport, dst, dport, dv, ifin, ifout, own in gmatch(batch, PAT) do
    id = tonumber(id)
    local divert = DIVERT[dv]
    local ctx = {
      src = endpoint(src, tonumber(sport)),
      dst = endpoint(dst, tonumber(dport)),
      divert = divert,
      iface_in = ifin ~= "" and ifin or nil,
      iface_out = ifout ~= "" and ifout or nil,
    }
    if own == "1" and divert == "output" then
      pending[ctx] = id
      setmetatable(ctx, LAZY)
    end
    local t = newtask(hook, id)
    if not t then
      emit("V\1" .. id .. "\1\1busy: too many connections waiting for a verdict")
    else
      conntask[id] = t
      run(t, ctx)
    end
  end
end

-- A connection past its time-out: the JS side gave the default verdict; the task is dropped.
function I.cancel(id)
  local t = conntask[id]
  if t then
    conntask[id] = nil
    I.D.kill(t)
  end
end
