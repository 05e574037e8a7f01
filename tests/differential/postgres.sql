-- Differential test, PostgreSQL 15: the same SQL goes through Debezium
-- (scripts/capture-debezium, golden/postgres.jsonl) and through logtap.
-- Run as a superuser in database `logtap`. The line "-- @@DML@@" splits the
-- file: everything above it (DDL) runs before the capture starts, everything
-- below it (DML) is what the golden records show.

DROP SCHEMA IF EXISTS diff CASCADE;
CREATE SCHEMA diff;
CREATE EXTENSION IF NOT EXISTS hstore;
CREATE EXTENSION IF NOT EXISTS ltree;
CREATE EXTENSION IF NOT EXISTS citext;

CREATE TYPE diff.mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN diff.posint AS int CHECK (VALUE > 0);

-- Marker rows (phase 'begin' / 'end') frame the capture; never in the golden.
CREATE TABLE diff.dz_marker (id serial PRIMARY KEY, phase text NOT NULL);

-- One column per type.
CREATE TABLE diff.pg_types (
  id int PRIMARY KEY,
  c_smallint smallint, c_int int, c_bigint bigint,
  c_smallserial smallserial, c_serial serial, c_bigserial bigserial,
  c_numeric numeric(7,2), c_numeric_free numeric, c_numeric_int numeric(5,0),
  c_real real, c_double double precision, c_bool boolean,
  c_text text, c_varchar varchar(10), c_varchar_free varchar, c_char char(5), c_char1 "char",
  c_name name, c_citext citext,
  c_bytea bytea,
  c_date date, c_time time, c_time3 time(3), c_timetz timetz,
  c_timestamp timestamp, c_timestamp0 timestamp(0), c_timestamptz timestamptz,
  c_interval interval,
  c_uuid uuid, c_json json, c_jsonb jsonb, c_xml xml,
  c_int_array int[], c_text_array text[], c_bigint_array bigint[], c_numeric_array numeric(6,2)[],
  c_enum diff.mood, c_domain diff.posint,
  c_money money, c_inet inet, c_cidr cidr, c_macaddr macaddr, c_macaddr8 macaddr8,
  c_bit bit(3), c_bit1 bit(1), c_varbit varbit(10),
  c_point point, c_box box, c_tsvector tsvector, c_tsquery tsquery,
  c_int4range int4range, c_int8range int8range, c_numrange numrange,
  c_tsrange tsrange, c_tstzrange tstzrange, c_daterange daterange,
  c_hstore hstore, c_ltree ltree, c_oid oid
);

-- Insert, update, update of the primary key, delete. REPLICA IDENTITY
-- DEFAULT: a delete's old tuple has the key columns only; qty has a
-- NOT NULL DEFAULT and note a nullable DEFAULT.
CREATE TABLE diff.pg_ops (
  id int PRIMARY KEY,
  name text,
  qty int NOT NULL DEFAULT 7,
  note varchar(20) DEFAULT 'none'
);

-- Two-column primary key.
CREATE TABLE diff.pg_composite (a int, b varchar(10), v text, PRIMARY KEY (a, b));

-- No primary key: REPLICA IDENTITY FULL so updates and deletes are published.
CREATE TABLE diff.pg_nokey (a int, b text);
ALTER TABLE diff.pg_nokey REPLICA IDENTITY FULL;

-- Primary key and REPLICA IDENTITY FULL: before images are whole rows.
CREATE TABLE diff.pg_full (id int PRIMARY KEY, v text, d int DEFAULT 5);
ALTER TABLE diff.pg_full REPLICA IDENTITY FULL;

-- A TOASTed column left unchanged by an update.
CREATE TABLE diff.pg_toast (id int PRIMARY KEY, big text, n int);

-- NOT NULL columns without a default, which a delete's key-only before
-- image (REPLICA IDENTITY DEFAULT) does not carry.
CREATE TABLE diff.pg_notnull (id int PRIMARY KEY, n int NOT NULL, t text NOT NULL, b boolean NOT NULL,
  ts timestamptz NOT NULL, nu numeric(5,2) NOT NULL, d date NOT NULL, j jsonb NOT NULL);

GRANT USAGE ON SCHEMA diff TO cdc;
GRANT SELECT ON ALL TABLES IN SCHEMA diff TO cdc;
DROP PUBLICATION IF EXISTS dz_capture;
CREATE PUBLICATION dz_capture FOR TABLES IN SCHEMA diff;

-- @@DML@@
SET TIME ZONE 'UTC';

INSERT INTO diff.pg_types VALUES (1,
  -32768, 2147483647, 9007199254740993,
  1, 2, 3,
  12345.67, 3.141592653589793238462643383279, 42,
  1.5, 2.25, true,
  'héllo wörld', 'abc', 'free varchar', 'ab', 'x',
  'a_name', 'CiText',
  '\x0102ff',
  '2024-02-29', '12:34:56.789012', '12:34:56.789', '12:34:56+02',
  '2024-02-29 12:34:56.123456', '2024-02-29 12:34:56', '2024-02-29 12:34:56.5+02',
  '1 year 2 mons 3 days 04:05:06.789',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": 1, "b": [true, null]}', '{"b": [1, 2], "a": "x"}', '<r><x>1</x></r>',
  '{1,2,NULL}', '{"a,b",c}', '{9007199254740993}', '{1.50,-2.25}',
  'happy', 5,
  '12.34', '192.168.1.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05',
  B'101', B'1', B'1100',
  '(1.5,-2)', '((0,0),(1,1))', 'fat cats ate rats', 'fat & rat',
  '[1,10)', '[5,)', '(1.5,2.5]',
  '[2024-01-01 00:00,2024-01-02 00:00)', '[2024-01-01 00:00+00,2024-01-02 00:00+00)', '[2024-01-01,2024-02-01)',
  'a=>1, b=>NULL', 'top.middle.leaf', 4242
);
-- Every nullable column NULL (the serials take their defaults).
INSERT INTO diff.pg_types (id) VALUES (2);
-- Edge values.
INSERT INTO diff.pg_types (id, c_numeric, c_numeric_free, c_real, c_double, c_date, c_timestamp, c_timestamptz,
  c_interval, c_money, c_bytea, c_text, c_bit)
VALUES (3, -0.01, 0, -0, 1e-10, '1969-12-31', '1900-01-01 00:00:00.000001', '1970-01-01 00:00:00+00',
  '-1 days -00:00:01', '-5.00', '\x', '', B'000');
UPDATE diff.pg_types SET c_int = 43, c_text = 'changed', c_jsonb = '{"z": null}' WHERE id = 1;

INSERT INTO diff.pg_ops (id, name) VALUES (1, 'one');
INSERT INTO diff.pg_ops VALUES (2, 'two', 3, 'note two');
UPDATE diff.pg_ops SET name = 'uno', qty = 8 WHERE id = 1;
UPDATE diff.pg_ops SET id = 10 WHERE id = 2;
DELETE FROM diff.pg_ops WHERE id = 1;

INSERT INTO diff.pg_composite VALUES (1, 'a', 'first'), (1, 'b', 'second');
UPDATE diff.pg_composite SET b = 'c' WHERE a = 1 AND b = 'b';
DELETE FROM diff.pg_composite WHERE a = 1 AND b = 'a';

INSERT INTO diff.pg_nokey VALUES (1, 'x'), (2, 'y');
UPDATE diff.pg_nokey SET b = 'z' WHERE a = 1;
DELETE FROM diff.pg_nokey WHERE a = 2;

INSERT INTO diff.pg_full (id, v) VALUES (1, 'full');
UPDATE diff.pg_full SET v = 'fuller' WHERE id = 1;
DELETE FROM diff.pg_full WHERE id = 1;

BEGIN;
INSERT INTO diff.pg_toast VALUES (1, (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 400) i), 1);
INSERT INTO diff.pg_ops (id, name) VALUES (3, 'in a transaction');
COMMIT;
UPDATE diff.pg_toast SET n = 2 WHERE id = 1;
INSERT INTO diff.pg_notnull VALUES (1, 5, 'x', true, '2024-01-01 00:00:00+00', 1.5, '2024-01-01', '{"a": 1}');
DELETE FROM diff.pg_notnull WHERE id = 1;
