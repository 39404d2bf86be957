-- A custom event's body is kept as its `data` only: the envelope around it (id, type,
-- timestamp, time) is the event's own columns, put back when it is read
-- (postbode_core::event::receiver_body). Bodies stored before kept the envelope, which
-- always ends in `,"data":` followed by the data and `}`: cut it off.
UPDATE events
SET body = substr(body, instr(body, CAST(',"data":' AS BLOB)) + 8,
                  length(body) - instr(body, CAST(',"data":' AS BLOB)) - 8)
WHERE type NOT IN ('open', 'click', 'delivery', 'bounce', 'failure', 'abuse', 'unsubscribe',
                   'create', 'update', 'delete')
  AND instr(body, CAST(',"data":' AS BLOB)) > 0;
