CREATE DATABASE IF NOT EXISTS `loupe` ON CLUSTER `prod`;

CREATE TABLE IF NOT EXISTS `loupe`.loupe_schema_migrations ON CLUSTER `prod` (component LowCardinality(String), version UInt32, applied_at DateTime64(3, 'UTC')) ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/{table}', '{replica}') ORDER BY (component, version);

-- things version 1
CREATE TABLE IF NOT EXISTS `loupe`.things_local ON CLUSTER `prod` (ts DateTime64(9, 'UTC'), n UInt64) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}') PARTITION BY toDate(ts) ORDER BY (n, ts);

CREATE TABLE IF NOT EXISTS `loupe`.`things` ON CLUSTER `prod` AS `loupe`.`things_local` ENGINE = Distributed('prod', 'loupe', 'things_local', rand());

-- things version 2
ALTER TABLE `loupe`.things_local ON CLUSTER `prod` ADD COLUMN IF NOT EXISTS label String;

