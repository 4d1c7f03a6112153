-- Runs an Argo CD health script as Argo CD does: `obj` global, only the base, string, table and math libraries.
-- lua HARNESS SCRIPT FIXTURE, where FIXTURE is a Lua file returning the object; prints status, a newline, message.
local script, fixture = arg[1], arg[2]
local env = {
  obj = dofile(fixture),
  ipairs = ipairs, pairs = pairs, next = next, type = type, tostring = tostring, tonumber = tonumber,
  select = select, error = error, pcall = pcall, unpack = unpack,
  string = string, table = table, math = math,
}
local chunk
if setfenv then -- Lua 5.1
  chunk = assert(loadfile(script))
  setfenv(chunk, env)
else
  chunk = assert(loadfile(script, "t", env))
end
local hs = chunk()
assert(type(hs) == "table", "the script must return a table")
io.write(tostring(hs.status), "\n", tostring(hs.message))
