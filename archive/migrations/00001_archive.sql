-- +goose Up
-- Every entry of the event stream, once: the stream ID is the key, so a
-- batch replayed after a crash writes nothing twice.
CREATE TABLE events (
    id      text PRIMARY KEY,            -- the stream entry's ID, "ms-seq"
    at      timestamptz NOT NULL,        -- from the ID: Redis's clock
    type    text NOT NULL,
    contact text NOT NULL DEFAULT '',
    agent   text NOT NULL DEFAULT '',
    node    text NOT NULL DEFAULT '',
    -- An agent's state as the event carries it ("a_state") and since when
    -- (the queue's clock): the reports' occupancy.
    agent_state text NOT NULL DEFAULT '',
    agent_since timestamptz,
    fields  jsonb NOT NULL               -- every field of the entry
);
CREATE INDEX events_at ON events (at);
CREATE INDEX events_contact ON events (contact) WHERE contact <> '';
CREATE INDEX events_agent_since ON events (agent_since) WHERE agent_state <> '';

-- Every closed contact. The typed columns are what reports and lookups
-- need; contact (the queue's Contact), fields (the Redis hash as it was, but its intake "d",
-- with whatever other parts added) and messages keep everything else.
CREATE TABLE contacts (
    tracking_no   text PRIMARY KEY,
    channel       text NOT NULL,
    line          text NOT NULL DEFAULT '',
    line_name     text NOT NULL DEFAULT '',
    queue         text NOT NULL DEFAULT '',
    mailbox_level text NOT NULL DEFAULT '',
    district      text NOT NULL DEFAULT '',
    request_type  text NOT NULL DEFAULT '',
    outcome       text NOT NULL DEFAULT '',
    agent         text NOT NULL DEFAULT '',
    history_key   text NOT NULL DEFAULT '',
    rating        text NOT NULL DEFAULT '',
    received_at   timestamptz NOT NULL,
    queued_at     timestamptz NOT NULL,
    offered_at    timestamptz,
    answered_at   timestamptz,
    ended_at      timestamptz,
    closed_at     timestamptz NOT NULL,
    wait_seconds  double precision,       -- in queue until answered or abandoned
    talk_seconds  double precision NOT NULL DEFAULT 0, -- with the agent, hold left out
    hold_seconds  double precision NOT NULL DEFAULT 0,
    acw_seconds   double precision NOT NULL DEFAULT 0, -- after-contact work: end to wrap-up
    abandoned     boolean NOT NULL DEFAULT false,
    callback      boolean NOT NULL DEFAULT false,
    contact       jsonb NOT NULL,
    fields        jsonb NOT NULL,
    messages      jsonb NOT NULL,
    archived_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contacts_received ON contacts (received_at);
CREATE INDEX contacts_history ON contacts (history_key, received_at DESC) WHERE history_key <> '';

-- +goose Down
DROP TABLE contacts;
DROP TABLE events;
