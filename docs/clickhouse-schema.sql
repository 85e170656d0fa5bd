-- docs/clickhouse-schema.sql - a ClickHouse schema for Rampart's events
-- (output.format "clickhouse"). Checked on ClickHouse 18.16 by
-- tests/e2e/test_real_collectors.sh, which loads this very file; it uses
-- nothing newer, so later versions take it too. docs/output-formats.md
-- explains it; in short:
--
--   clickhouse-client --multiquery < docs/clickhouse-schema.sql
--
--   output.url = "https://CLICKHOUSE:8443/?query=INSERT%20INTO%20rampart.events_ingest%20FORMAT%20CSV&format_csv_delimiter=%01"
--
-- Why not JSONEachRow straight into a table: ClickHouse treats Array
-- columns whose names share the part before the first dot (`event.category`
-- and `event.type`) as one Nested structure and refuses a whole insert
-- (Code 190) when their lengths differ in any row, which real events do
-- (a TCP connect is category ["network"], type ["connection","start"]).
-- JSONEachRow matches keys to column names exactly, so no table can take
-- those lines under another name. Instead each NDJSON line is taken whole,
-- as one CSV field (the delimiter 0x01 never occurs in Rampart's JSON, which
-- escapes every control byte, and a line always starts with `{`, never a
-- quote), into a Null table that stores nothing; the materialized view
-- parses it into `rampart.events`. Array columns there are named with `_`
-- (`event_category`), so no two of them form a Nested structure; ALIAS
-- columns give them their ECS names back for queries.
--
-- Another database: replace every `rampart.` below.
-- Fields with no column are still in `event.original` (the whole line):
--   SELECT visitParamExtractString(`event.original`, 'login.tty') FROM rampart.events
-- Times are DateTime (whole seconds, UTC); `event.original` keeps the
-- nanoseconds.

CREATE DATABASE IF NOT EXISTS rampart;

CREATE TABLE IF NOT EXISTS rampart.events_ingest (
  line String
) ENGINE = Null;

CREATE TABLE IF NOT EXISTS rampart.events (
  `@timestamp` DateTime,
  `event.id` String,
  `event.kind` String,
  `event.dataset` String,
  `event.provider` String,
  `event_category` Array(String),
  `event_type` Array(String),
  `event.category` Array(String) ALIAS event_category,
  `event.type` Array(String) ALIAS event_type,
  `event.action` String,
  `event.outcome` String,
  `event.reason` String,
  `event.severity` Int64,
  `event.duration` Int64,
  `event.created` DateTime,
  `message` String,
  -- who sent it: the agent stamps these on every event
  `agent.id` String,
  `agent.type` String,
  `agent.version` String,
  `host.name` String,
  `host.hostname` String,
  `host.id` String,
  `labels.site` String,
  -- process (collector_process; the process behind file and network events)
  `process.pid` Int64,
  `process.name` String,
  `process.executable` String,
  `process_args` Array(String),
  `process.args` Array(String) ALIAS process_args,
  `process.args_count` Int64,
  `process.command_line` String,
  `process.working_directory` String,
  `process.entity_id` String,
  `process.start` DateTime,
  `process.end` DateTime,
  `process.exit_code` Int64,
  `process.hash.sha256` String,
  `process.interactive` UInt8,
  `process.parent.pid` Int64,
  `process.parent.name` String,
  `process.parent.executable` String,
  `process.parent.command_line` String,
  `process.parent.entity_id` String,
  `user.id` String,
  `user.name` String,
  `user.effective.id` String,
  `group.id` String,
  `group.name` String,
  -- file (collector_file)
  `file.path` String,
  `file.name` String,
  `file.directory` String,
  `file.extension` String,
  `file.type` String,
  `file.size` UInt64,
  `file.inode` String,
  `file.device` String,
  `file.mode` String,
  `file.owner` String,
  `file.uid` String,
  `file.gid` String,
  `file.mtime` DateTime,
  `file.ctime` DateTime,
  -- network (collector_network) and logins (collector_login)
  `source.ip` String,
  `source.port` UInt16,
  `source.address` String,
  `source.bytes` UInt64,
  `source.packets` UInt64,
  `destination.ip` String,
  `destination.port` UInt16,
  `destination.bytes` UInt64,
  `destination.packets` UInt64,
  `network.direction` String,
  `network.transport` String,
  `network.type` String,
  `network.iana_number` String,
  `network.bytes` UInt64,
  `network.packets` UInt64,
  `related_ip` Array(String),
  `related_user` Array(String),
  `related.ip` Array(String) ALIAS related_ip,
  `related.user` Array(String) ALIAS related_user,
  `log.file.path` String,
  -- alerts (detectors)
  `rule.id` String,
  `rule.name` String,
  -- the whole line as the agent sent it
  `event.original` String
) ENGINE = MergeTree
PARTITION BY toYYYYMM(`@timestamp`)
ORDER BY (`host.name`, `@timestamp`);

-- visitParamExtract* read a top-level key of a flat JSON object (Rampart's
-- lines are flat); a key that is absent gives '' / 0 / [] / 0000-00-00 00:00:00.
-- Nothing here throws: a line that is not what it expects stores defaults
-- (and the line itself), it never makes ClickHouse refuse the batch.
-- An array of strings is split into its JSON string literals, each decoded
-- by visitParamExtractString.
CREATE MATERIALIZED VIEW IF NOT EXISTS rampart.events_parse TO rampart.events AS
SELECT
  if(visitParamExtractString(line, '@timestamp') = '', toDateTime(0),
    parseDateTimeBestEffortOrZero(visitParamExtractString(line, '@timestamp'))) AS `@timestamp`,
  visitParamExtractString(line, 'event.id') AS `event.id`,
  visitParamExtractString(line, 'event.kind') AS `event.kind`,
  visitParamExtractString(line, 'event.dataset') AS `event.dataset`,
  visitParamExtractString(line, 'event.provider') AS `event.provider`,
  arrayMap(s -> visitParamExtractString(concat('{"s":', s, '}'), 's'),
    extractAll(visitParamExtractRaw(line, 'event.category'), '"(?:[^"\\\\]|\\\\.)*"')) AS event_category,
  arrayMap(s -> visitParamExtractString(concat('{"s":', s, '}'), 's'),
    extractAll(visitParamExtractRaw(line, 'event.type'), '"(?:[^"\\\\]|\\\\.)*"')) AS event_type,
  visitParamExtractString(line, 'event.action') AS `event.action`,
  visitParamExtractString(line, 'event.outcome') AS `event.outcome`,
  visitParamExtractString(line, 'event.reason') AS `event.reason`,
  visitParamExtractInt(line, 'event.severity') AS `event.severity`,
  visitParamExtractInt(line, 'event.duration') AS `event.duration`,
  if(visitParamExtractString(line, 'event.created') = '', toDateTime(0),
    parseDateTimeBestEffortOrZero(visitParamExtractString(line, 'event.created'))) AS `event.created`,
  visitParamExtractString(line, 'message') AS `message`,
  visitParamExtractString(line, 'agent.id') AS `agent.id`,
  visitParamExtractString(line, 'agent.type') AS `agent.type`,
  visitParamExtractString(line, 'agent.version') AS `agent.version`,
  visitParamExtractString(line, 'host.name') AS `host.name`,
  visitParamExtractString(line, 'host.hostname') AS `host.hostname`,
  visitParamExtractString(line, 'host.id') AS `host.id`,
  visitParamExtractString(line, 'labels.site') AS `labels.site`,
  visitParamExtractInt(line, 'process.pid') AS `process.pid`,
  visitParamExtractString(line, 'process.name') AS `process.name`,
  visitParamExtractString(line, 'process.executable') AS `process.executable`,
  arrayMap(s -> visitParamExtractString(concat('{"s":', s, '}'), 's'),
    extractAll(visitParamExtractRaw(line, 'process.args'), '"(?:[^"\\\\]|\\\\.)*"')) AS process_args,
  visitParamExtractInt(line, 'process.args_count') AS `process.args_count`,
  visitParamExtractString(line, 'process.command_line') AS `process.command_line`,
  visitParamExtractString(line, 'process.working_directory') AS `process.working_directory`,
  visitParamExtractString(line, 'process.entity_id') AS `process.entity_id`,
  if(visitParamExtractString(line, 'process.start') = '', toDateTime(0),
    parseDateTimeBestEffortOrZero(visitParamExtractString(line, 'process.start'))) AS `process.start`,
  if(visitParamExtractString(line, 'process.end') = '', toDateTime(0),
    parseDateTimeBestEffortOrZero(visitParamExtractString(line, 'process.end'))) AS `process.end`,
  visitParamExtractInt(line, 'process.exit_code') AS `process.exit_code`,
  visitParamExtractString(line, 'process.hash.sha256') AS `process.hash.sha256`,
  visitParamExtractBool(line, 'process.interactive') AS `process.interactive`,
  visitParamExtractInt(line, 'process.parent.pid') AS `process.parent.pid`,
  visitParamExtractString(line, 'process.parent.name') AS `process.parent.name`,
  visitParamExtractString(line, 'process.parent.executable') AS `process.parent.executable`,
  visitParamExtractString(line, 'process.parent.command_line') AS `process.parent.command_line`,
  visitParamExtractString(line, 'process.parent.entity_id') AS `process.parent.entity_id`,
  visitParamExtractString(line, 'user.id') AS `user.id`,
  visitParamExtractString(line, 'user.name') AS `user.name`,
  visitParamExtractString(line, 'user.effective.id') AS `user.effective.id`,
  visitParamExtractString(line, 'group.id') AS `group.id`,
  visitParamExtractString(line, 'group.name') AS `group.name`,
  visitParamExtractString(line, 'file.path') AS `file.path`,
  visitParamExtractString(line, 'file.name') AS `file.name`,
  visitParamExtractString(line, 'file.directory') AS `file.directory`,
  visitParamExtractString(line, 'file.extension') AS `file.extension`,
  visitParamExtractString(line, 'file.type') AS `file.type`,
  visitParamExtractUInt(line, 'file.size') AS `file.size`,
  visitParamExtractString(line, 'file.inode') AS `file.inode`,
  visitParamExtractString(line, 'file.device') AS `file.device`,
  visitParamExtractString(line, 'file.mode') AS `file.mode`,
  visitParamExtractString(line, 'file.owner') AS `file.owner`,
  visitParamExtractString(line, 'file.uid') AS `file.uid`,
  visitParamExtractString(line, 'file.gid') AS `file.gid`,
  if(visitParamExtractString(line, 'file.mtime') = '', toDateTime(0),
    parseDateTimeBestEffortOrZero(visitParamExtractString(line, 'file.mtime'))) AS `file.mtime`,
  if(visitParamExtractString(line, 'file.ctime') = '', toDateTime(0),
    parseDateTimeBestEffortOrZero(visitParamExtractString(line, 'file.ctime'))) AS `file.ctime`,
  visitParamExtractString(line, 'source.ip') AS `source.ip`,
  toUInt16(visitParamExtractUInt(line, 'source.port')) AS `source.port`,
  visitParamExtractString(line, 'source.address') AS `source.address`,
  visitParamExtractUInt(line, 'source.bytes') AS `source.bytes`,
  visitParamExtractUInt(line, 'source.packets') AS `source.packets`,
  visitParamExtractString(line, 'destination.ip') AS `destination.ip`,
  toUInt16(visitParamExtractUInt(line, 'destination.port')) AS `destination.port`,
  visitParamExtractUInt(line, 'destination.bytes') AS `destination.bytes`,
  visitParamExtractUInt(line, 'destination.packets') AS `destination.packets`,
  visitParamExtractString(line, 'network.direction') AS `network.direction`,
  visitParamExtractString(line, 'network.transport') AS `network.transport`,
  visitParamExtractString(line, 'network.type') AS `network.type`,
  visitParamExtractString(line, 'network.iana_number') AS `network.iana_number`,
  visitParamExtractUInt(line, 'network.bytes') AS `network.bytes`,
  visitParamExtractUInt(line, 'network.packets') AS `network.packets`,
  arrayMap(s -> visitParamExtractString(concat('{"s":', s, '}'), 's'),
    extractAll(visitParamExtractRaw(line, 'related.ip'), '"(?:[^"\\\\]|\\\\.)*"')) AS related_ip,
  arrayMap(s -> visitParamExtractString(concat('{"s":', s, '}'), 's'),
    extractAll(visitParamExtractRaw(line, 'related.user'), '"(?:[^"\\\\]|\\\\.)*"')) AS related_user,
  visitParamExtractString(line, 'log.file.path') AS `log.file.path`,
  visitParamExtractString(line, 'rule.id') AS `rule.id`,
  visitParamExtractString(line, 'rule.name') AS `rule.name`,
  line AS `event.original`
FROM rampart.events_ingest;
