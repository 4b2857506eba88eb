-- sysbench oltp_read_write whose threads reconnect when their connection is
-- cut, the way an application's pool does.
--
-- Why not --mysql-ignore-errors=2013: Debian's sysbench 1.0.20 is built on
-- libmariadb, and its driver reconnects on the handle it has just closed,
-- which crashes (sysbench issue 527). Here a cut connection is downgraded
-- to a restart of the event, and the thread opens a new connection (a new
-- handle) and prepares its statements again before it restarts.
--
-- Each cut prints one line to stderr, for the test to count:
--   sqlyard-cut errno=<n>
-- and any other restarted transaction (a deadlock, say) one more:
--   sqlyard-other errno=<n>
-- Any other error stays fatal, as in oltp_read_write.

require("oltp_read_write")

local ffi = require("ffi")
ffi.cdef [[int usleep(unsigned int usec);]]

-- The connection is gone: server gone away, lost during a query, lost
-- before the query was sent, server shutdown, connection killed.
local CUT = {[2006] = true, [2013] = true, [2055] = true, [1053] = true, [1927] = true}

sysbench.hooks.sql_error_ignorable = function(err)
   return CUT[err.sql_errno] == true
end

local function reconnect()
   pcall(function() con:disconnect() end)
   while true do
      local ok, c = pcall(drv.connect, drv)
      if ok and c ~= nil then
         con = c
         stmt = {}
         param = {}
         for t = 1, sysbench.opt.tables do
            stmt[t] = {}
            param[t] = {}
         end
         -- the new connection may be cut too: then try again
         if pcall(prepare_statements) then
            return
         end
         pcall(function() con:disconnect() end)
      end
      ffi.C.usleep(50000)
   end
end

sysbench.hooks.before_restart_event = function(err)
   if CUT[err.sql_errno] then
      io.stderr:write(string.format("sqlyard-cut errno=%d\n", err.sql_errno))
      io.stderr:flush()
      reconnect()
   else
      -- an error the driver restarts by itself (--mysql-ignore-errors,
      -- by default deadlocks and lock wait timeouts): named, for the test
      io.stderr:write(string.format("sqlyard-other errno=%s\n", tostring(err.sql_errno)))
      io.stderr:flush()
   end
end
