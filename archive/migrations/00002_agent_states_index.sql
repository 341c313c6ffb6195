-- +goose Up
-- The report's occupancy walks each agent's states in order: this index
-- gives that order without sorting a month of events (BenchmarkMonthReport).
CREATE INDEX events_agent_states ON events (agent, agent_since, id) INCLUDE (agent_state) WHERE agent_state <> '';

-- +goose Down
DROP INDEX events_agent_states;
