-- Differential test, MySQL 9.7: the same SQL goes through Debezium
-- (scripts/capture-debezium, golden/mysql.jsonl) and through logtap.
-- Run as root. The line "-- @@DML@@" splits the file: everything above it
-- (DDL) runs before the capture starts, everything below it (DML, including
-- one ALTER TABLE) is what the golden records show.

DROP DATABASE IF EXISTS diff;
CREATE DATABASE diff CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci;
USE diff;

-- Marker rows (phase 'begin' / 'end') frame the capture; never in the golden.
CREATE TABLE dz_marker (id int AUTO_INCREMENT PRIMARY KEY, phase varchar(10) NOT NULL);

-- One column per type.
CREATE TABLE my_types (
  id int NOT NULL PRIMARY KEY,
  c_tinyint tinyint, c_tinyint_u tinyint unsigned, c_bool boolean,
  c_smallint smallint, c_smallint_u smallint unsigned,
  c_mediumint mediumint, c_mediumint_u mediumint unsigned,
  c_int int, c_int_u int unsigned, c_bigint bigint, c_bigint_u bigint unsigned,
  c_decimal decimal(10,2), c_decimal_big decimal(30,10), c_decimal_u decimal(5,0) unsigned,
  c_float float, c_double double,
  c_bit1 bit(1), c_bit10 bit(10), c_bit64 bit(64),
  c_char char(5), c_varchar varchar(20), c_tinytext tinytext, c_text text,
  c_mediumtext mediumtext, c_longtext longtext, c_latin1 varchar(10) CHARACTER SET latin1,
  c_binary binary(4), c_varbinary varbinary(10), c_tinyblob tinyblob, c_blob blob,
  c_mediumblob mediumblob, c_longblob longblob,
  c_date date, c_datetime datetime, c_datetime3 datetime(3), c_datetime6 datetime(6),
  c_timestamp timestamp NULL DEFAULT NULL, c_timestamp6 timestamp(6) NULL DEFAULT NULL,
  c_time time, c_time6 time(6), c_year year,
  c_enum enum('sad','ok','happy'), c_set set('a','b','c'),
  c_json json,
  c_geometry geometry, c_point point, c_linestring linestring, c_polygon polygon,
  c_multipoint multipoint, c_geomcollection geometrycollection,
  c_vector vector(3)
);

-- Insert, update, update of the primary key, delete; qty has a DEFAULT.
CREATE TABLE my_ops (
  id int NOT NULL PRIMARY KEY,
  name varchar(20),
  qty int NOT NULL DEFAULT 7,
  note varchar(20) DEFAULT 'none'
);

-- Two-column primary key.
CREATE TABLE my_composite (a int NOT NULL, b varchar(10) NOT NULL, v text, PRIMARY KEY (a, b));

-- No primary key.
CREATE TABLE my_nokey (a int, b varchar(10));

-- Defaults of many types, and the table the schema changes below work on.
CREATE TABLE my_ddl (
  id int NOT NULL AUTO_INCREMENT PRIMARY KEY,
  ts timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
  dt datetime DEFAULT CURRENT_TIMESTAMP,
  d date DEFAULT '2020-01-02',
  tm time(3) DEFAULT '01:02:03.500',
  y year DEFAULT 2020,
  e enum('a','b') NOT NULL DEFAULT 'b',
  s set('x','y') DEFAULT 'x,y',
  de decimal(6,2) DEFAULT 12.5,
  b1 bit(1) DEFAULT b'1',
  b4 bit(4) DEFAULT b'1010',
  f double DEFAULT 1.5,
  u int unsigned DEFAULT 7,
  ti tinyint DEFAULT -3,
  bi bigint DEFAULT 1234567890123,
  vc varchar(10) DEFAULT 'v',
  ch char(3) CHARACTER SET latin1 DEFAULT 'abc',
  vb varbinary(4) DEFAULT 'ab',
  nn int NOT NULL
);

-- Quoted, mixed-case names.
CREATE TABLE `MixedCase` (`Id` int PRIMARY KEY, `Some Value` varchar(20), `select` int);

-- No primary key, a unique index on NOT NULL columns.
CREATE TABLE my_uniq (a int NOT NULL, b varchar(10) NOT NULL, v varchar(20), UNIQUE KEY my_uniq_ab (a, b));

-- A partitioned table.
CREATE TABLE my_part (id int NOT NULL, region varchar(5) NOT NULL, v varchar(10), PRIMARY KEY (id, region))
  PARTITION BY LIST COLUMNS (region) (PARTITION p_eu VALUES IN ('eu'), PARTITION p_us VALUES IN ('us'));

-- A bigger transaction.
CREATE TABLE my_big (id int PRIMARY KEY, v varchar(40));

-- @@DML@@
USE diff;
SET time_zone = '+00:00';

INSERT INTO my_types VALUES (1,
  -128, 255, true,
  -32768, 65535,
  -8388608, 16777215,
  -2147483648, 4294967295, -9223372036854775808, 18446744073709551615,
  12345.67, -12345678901234567890.0123456789, 99999,
  1.5, 2.25,
  b'1', b'1000000001', b'1000000000000000000000000000000000000000000000000000000000000001',
  'ab', 'héllo', 'tiny', 'text',
  'medium', 'long', 'café',
  X'0102', X'00ff00', X'01', X'deadbeef',
  X'cafe', X'babe',
  '2024-02-29', '2024-02-29 12:34:56', '2024-02-29 12:34:56.123', '2024-02-29 12:34:56.123456',
  '2024-01-02 03:04:05', '2024-01-02 03:04:05.000001',
  '12:34:56', '-838:59:59.000000', 2024,
  'ok', 'c,a',
  '{"a": [1, 2], "b": null}',
  ST_GeomFromText('POINT(1 2)', 4326), ST_GeomFromText('POINT(3.5 -4.25)'),
  ST_GeomFromText('LINESTRING(0 0,1 1)'), ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))'),
  ST_GeomFromText('MULTIPOINT(0 0,1 1)'), ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 1))'),
  STRING_TO_VECTOR('[1.5, -2, 0.25]')
);
-- Every nullable column NULL.
INSERT INTO my_types (id) VALUES (2);
-- Edge values.
INSERT INTO my_types (id, c_decimal, c_float, c_double, c_date, c_datetime, c_timestamp, c_time6, c_year,
  c_varchar, c_blob, c_set, c_bit10)
VALUES (3, -0.01, -0, 1e-10, '1969-12-31', '1000-01-01 00:00:00', '1970-01-01 00:00:01', '-00:00:00.000001', 1901,
  '', X'', '', b'0');
UPDATE my_types SET c_int = 43, c_varchar = 'changed', c_json = '{"z": null}' WHERE id = 1;

INSERT INTO my_ops (id, name) VALUES (1, 'one');
INSERT INTO my_ops VALUES (2, 'two', 3, 'note two');
UPDATE my_ops SET name = 'uno', qty = 8 WHERE id = 1;
UPDATE my_ops SET id = 10 WHERE id = 2;
DELETE FROM my_ops WHERE id = 1;

INSERT INTO my_composite VALUES (1, 'a', 'first'), (1, 'b', 'second');
UPDATE my_composite SET b = 'c' WHERE a = 1 AND b = 'b';
DELETE FROM my_composite WHERE a = 1 AND b = 'a';

INSERT INTO my_nokey VALUES (1, 'x'), (2, 'y');
UPDATE my_nokey SET b = 'z' WHERE a = 1;
DELETE FROM my_nokey WHERE a = 2;

-- A schema change, then a row that uses it.
ALTER TABLE my_ops ADD COLUMN extra varchar(10) NOT NULL DEFAULT 'x';
INSERT INTO my_ops (id, name) VALUES (3, 'after ddl');

BEGIN;
INSERT INTO my_ops (id, name, extra) VALUES (4, 'in a transaction', 'y');
UPDATE my_nokey SET b = 'w' WHERE a = 1;
COMMIT;

INSERT INTO `MixedCase` VALUES (1, 'one', 7);
UPDATE `MixedCase` SET `Some Value` = 'uno' WHERE `Id` = 1;
DELETE FROM `MixedCase` WHERE `Id` = 1;

INSERT INTO my_uniq VALUES (1, 'x', 'first'), (2, 'y', 'second');
UPDATE my_uniq SET v = 'changed' WHERE a = 1;
UPDATE my_uniq SET a = 3 WHERE a = 2;
DELETE FROM my_uniq WHERE a = 1;

INSERT INTO my_part VALUES (1, 'eu', 'a'), (2, 'us', 'b');
UPDATE my_part SET v = 'c' WHERE id = 1;
UPDATE my_part SET region = 'us' WHERE id = 1;
DELETE FROM my_part WHERE id = 2;

BEGIN;
INSERT INTO my_ops (id, name, extra) VALUES (20, 'kept', 'k');
SAVEPOINT s1;
INSERT INTO my_ops (id, name, extra) VALUES (21, 'rolled back', 'r');
ROLLBACK TO SAVEPOINT s1;
INSERT INTO my_ops (id, name, extra) VALUES (22, 'after', 'a');
COMMIT;

INSERT INTO my_big SELECT n, concat('row ', n) FROM (WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 300) SELECT n FROM s) g;

-- Schema changes of each kind. "-- @@SYNC@@" lines are where logtap's run
-- waits until logtap has read everything before them (it describes tables
-- from the catalog when it reads a statement, so a later statement must
-- not have run yet); Debezium's capture runs straight through.
INSERT INTO my_ddl (id, ts, dt, nn) VALUES (1, '2024-01-01 00:00:00', '2024-01-01 00:00:00', 1);
-- @@SYNC@@
ALTER TABLE my_ddl ALTER COLUMN u SET DEFAULT 9;
INSERT INTO my_ddl (id, ts, dt, nn) VALUES (2, '2024-01-01 00:00:00', '2024-01-01 00:00:00', 2);
-- @@SYNC@@
CREATE INDEX my_ddl_e ON my_ddl (e);
TRUNCATE TABLE my_ddl;
RENAME TABLE my_ddl TO my_ddl2;
-- @@SYNC@@
DROP TABLE my_ddl2;
