-- wrk script of bench/matrix/run.sh, phase (a): message send throughput.
--
--   wrk -t2 -c16 -d10s -s send.lua http://127.0.0.1:PORT -- TOKENS_FILE ROOMS_FILE NONCE
--
-- Every request is PUT /_matrix/client/v3/rooms/{room}/send/m.room.message/{txnId} with a txnId
-- unique to the run (NONCE-thread-counter). wrk asks a thread's Lua state for the next request
-- of any of its connections, so each thread cycles through its share of the tokens: with 16
-- tokens and 2 threads, thread 0 sends as tokens 1, 3, 5, ... and thread 1 as 2, 4, 6, ... in
-- turn. ROOMS_FILE holds either one room (all users send into it) or one room per token (token
-- i sends into room i). done() prints key=value lines for run.sh.

local next_thread = 0

function setup(thread)
  thread:set("thread_index", next_thread)
  next_thread = next_thread + 1
end

local function read_lines(path)
  local out = {}
  local f = assert(io.open(path, "r"))
  for line in f:lines() do
    line = line:gsub("%s+$", "")
    if line ~= "" then out[#out + 1] = line end
  end
  f:close()
  return out
end

local function percent_encode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local mine = {}     -- {auth header, path prefix} per token of this thread
local counter = 0

function init(args)
  local tokens = read_lines(args[1])
  local rooms = read_lines(args[2])
  local nonce = args[3] or "run"
  local threads = tonumber(args[4] or "2")
  for i = 1, #tokens do
    if (i - 1) % threads == thread_index then
      local room = rooms[#rooms == 1 and 1 or i]
      mine[#mine + 1] = {
        headers = {["Authorization"] = "Bearer " .. tokens[i],
                   ["Content-Type"] = "application/json"},
        prefix = "/_matrix/client/v3/rooms/" .. percent_encode(room) ..
                 "/send/m.room.message/" .. nonce .. "-" .. thread_index .. "-",
      }
    end
  end
  assert(#mine > 0, "more wrk threads than tokens")
end

function request()
  counter = counter + 1
  local m = mine[(counter % #mine) + 1]
  local body = '{"msgtype":"m.text","body":"bench message ' .. counter .. '"}'
  return wrk.format("PUT", m.prefix .. counter, m.headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("requests=%d\nduration_us=%d\n", summary.requests, summary.duration))
  io.write(string.format("errors_connect=%d\nerrors_read=%d\nerrors_write=%d\n",
                         e.connect, e.read, e.write))
  io.write(string.format("errors_status=%d\nerrors_timeout=%d\n", e.status, e.timeout))
  io.write(string.format("latency_mean_us=%.1f\nlatency_max_us=%d\n", latency.mean, latency.max))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    local name = (p == 99.9) and "p999" or ("p" .. p)
    io.write(string.format("latency_%s_us=%d\n", name, latency:percentile(p)))
  end
end
