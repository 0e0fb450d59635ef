CREATE DATABASE IF NOT EXISTS `loupe`;

CREATE TABLE IF NOT EXISTS `loupe`.loupe_schema_migrations (component LowCardinality(String), version UInt32, applied_at DateTime64(3, 'UTC')) ENGINE = MergeTree ORDER BY (component, version);

-- things version 1
CREATE TABLE IF NOT EXISTS `loupe`.things (ts DateTime64(9, 'UTC'), n UInt64) ENGINE = MergeTree PARTITION BY toDate(ts) ORDER BY (n, ts);

-- things version 2
ALTER TABLE `loupe`.things ADD COLUMN IF NOT EXISTS label String;

