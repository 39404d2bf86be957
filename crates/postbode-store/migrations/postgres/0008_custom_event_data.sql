-- A custom event's body is kept as its `data` only: the envelope around it (id, type,
-- timestamp, time) is the event's own columns, put back when it is read
-- (postbode_core::event::receiver_body). Bodies stored before kept the envelope, which
-- always ends in `,"data":` (2c 22 64 61 74 61 22 3a) followed by the data and `}`:
-- cut it off.
UPDATE events
SET body = substring(body FROM position('\x2c2264617461223a'::bytea IN body) + 8
                          FOR length(body) - position('\x2c2264617461223a'::bytea IN body) - 8)
WHERE type NOT IN ('open', 'click', 'delivery', 'bounce', 'failure', 'abuse', 'unsubscribe',
                   'create', 'update', 'delete')
  AND position('\x2c2264617461223a'::bytea IN body) > 0;
