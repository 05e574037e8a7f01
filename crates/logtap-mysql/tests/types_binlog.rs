//! Conversion of real binlog bytes: a MariaDB 10.11 binlog
//! (`binlog_format = ROW`, `binlog_row_image = FULL`, `binlog_row_metadata =
//! FULL`, `mysql56_temporal_format = ON`, time zone UTC), decoded by
//! mysql_common's `BinlogFile`, resolved with `table_columns`, converted
//! with `column_schema`. The expected values were worked out from
//! Debezium's converters (see `src/types.rs`), not copied from logtap's
//! output.
//!
//! The binlog was written by this SQL (`mysql` client, after `FLUSH BINARY
//! LOGS`):
//!
//! ```sql
//! SET NAMES utf8mb4;
//! SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION';
//! SET SESSION time_zone = '+00:00';
//! DROP DATABASE IF EXISTS mtypes;
//! CREATE DATABASE mtypes CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;
//! USE mtypes;
//! CREATE TABLE t_num (
//!   id INT NOT NULL PRIMARY KEY,
//!   ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,
//!   mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED,
//!   bi BIGINT, biu BIGINT UNSIGNED, b BOOLEAN, yr YEAR, f FLOAT, d DOUBLE,
//!   dec1 DECIMAL(10,2), dec2 DECIMAL(65,30), dec3 DECIMAL(5,0) UNSIGNED, dec4 DECIMAL(4,4),
//!   bit1 BIT(1), bit10 BIT(10), bit64 BIT(64), nn INT NOT NULL DEFAULT 7
//! );
//! INSERT INTO t_num VALUES
//!  (1, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295,
//!   -9223372036854775808, 18446744073709551615, TRUE, 2155, 3.4028235e38, -1.7976931348623157e308,
//!   -12345678.91, -12345678901234567890123456789012345.123456789012345678901234567890, 99999, -0.0001,
//!   b'1', b'1000000001', b'1111111111111111111111111111111111111111111111111111111111111110', -1),
//!  (2, 127, 0, 32767, 0, 8388607, 0, 2147483647, 0,
//!   9223372036854775807, 9223372036854775808, FALSE, 1901, 0.1, 0.1,
//!   0.5, 0.000000000000000000000000000001, 0, 0.5,
//!   b'0', b'0000000000', b'0', 0),
//!  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 3),
//!  (4, 0, 128, 0, 32768, 0, 8388608, 0, 2147483648, 0, 0, 2, 0, -0.0, 1e300, 0, 0, 1, 0, b'1', b'11', b'1', 4),
//!  (5, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, TRUE, 1999, 1e-5, 1e7, 99999999.99, 1.5, 12345, 0.9999, b'0', b'1111111111', b'1', 5);
//! CREATE TABLE t_str (
//!   id INT NOT NULL,
//!   c CHAR(10), vc VARCHAR(100), tx TEXT, lt LONGTEXT,
//!   l1 VARCHAR(20) CHARACTER SET latin1, a1 VARCHAR(10) CHARACTER SET ascii,
//!   u16 VARCHAR(10) CHARACTER SET utf16, u32 VARCHAR(10) CHARACTER SET utf32, uc2 CHAR(3) CHARACTER SET ucs2, u16le VARCHAR(5) CHARACTER SET utf16le,
//!   u3 VARCHAR(10) CHARACTER SET utf8mb3,
//!   bn BINARY(8), vb VARBINARY(20), bl BLOB, tb TINYBLOB,
//!   e ENUM('a','b,c','d''e','x\\y') , s SET('x','y','z','w'), j JSON,
//!   g GEOMETRY, p POINT, ls LINESTRING, pg POLYGON, gc GEOMETRYCOLLECTION,
//!   el ENUM('é','ü') CHARACTER SET latin1,
//!   nt VARCHAR(5) NOT NULL,
//!   PRIMARY KEY (vc(10), id)
//! );
//! INSERT INTO t_str VALUES
//!  (1, 'abc  ', 'héllo 👋', 'text', REPEAT('x', 300), 'café €', 'ascii', 'ü€𝄞', 'ü€𝄞', 'ü€', 'ü€𝄞', 'ü€',
//!   X'0102', X'00ff00', X'deadbeef', X'',
//!   'b,c', 'x,z,w', '{"b": 1, "a": [true, null, 1.5e300, "s\\"q"]}',
//!   ST_GeomFromText('POINT(1 2)', 4326), ST_GeomFromText('POINT(3.5 -4.25)'), ST_GeomFromText('LINESTRING(0 0,1 1)'),
//!   ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))'), ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 1))'),
//!   'é', ''),
//!  (2, '', '', '', '', '', '', '', '', '', '', '', X'', X'', X'', NULL, '', '', NULL, NULL, NULL, NULL, NULL, NULL, 'ü', 'x'),
//!  (3, NULL, 'n', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'y'),
//!  (4, 'x', 'four', 't', 'l', 'x', 'x', 'x', 'x', 'x', 'x', 'x', X'0102030405060708', X'', X'', X'01', 'x\\y', '', '[]', NULL, NULL, NULL, NULL, NULL, 'é', 'z');
//! CREATE TABLE t_time (
//!   id INT NOT NULL PRIMARY KEY,
//!   d DATE, dt DATETIME, dt1 DATETIME(1), dt3 DATETIME(3), dt6 DATETIME(6),
//!   ts TIMESTAMP NULL DEFAULT NULL, ts1 TIMESTAMP(1) NULL DEFAULT NULL, ts3 TIMESTAMP(3) NULL DEFAULT NULL, ts6 TIMESTAMP(6) NULL DEFAULT NULL,
//!   t TIME, t1 TIME(1), t2 TIME(2), t3 TIME(3), t4 TIME(4), t6 TIME(6),
//!   dnn DATE NOT NULL, dtnn DATETIME NOT NULL, tsnn TIMESTAMP NOT NULL DEFAULT '2000-01-01 00:00:00'
//! );
//! INSERT INTO t_time VALUES
//!  (1, '2018-06-20', '2018-06-20 06:37:03', '2018-06-20 06:37:03.5', '2018-06-20 06:37:03.123', '2018-06-20 06:37:03.123456',
//!   '2018-06-20 13:37:03', '2018-06-20 13:37:03.1', '2018-06-20 13:37:03.120', '2018-06-20 13:37:03.000001',
//!   '12:34:56', '12:34:56.7', '12:34:56.78', '12:34:56.789', '12:34:56.7891', '12:34:56.789123',
//!   '2018-06-20', '2018-06-20 06:37:03', '2018-06-20 13:37:03'),
//!  (2, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '0000-00-00 00:00:00',
//!   '0000-00-00 00:00:00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '0000-00-00 00:00:00',
//!   '-838:59:59', '-00:00:01', '-01:00:00', '-01:02:03.004', '-838:59:59.9999', '-00:00:00.000001',
//!   '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00'),
//!  (3, '1000-01-01', '9999-12-31 23:59:59', '1969-12-31 23:59:59.9', '1969-12-31 23:59:59.999', '1969-12-31 23:59:59.999999',
//!   '1970-01-01 00:00:01', '2038-01-19 03:14:07.9', '2038-01-19 03:14:07.999', '2038-01-19 03:14:07.999999',
//!   '838:59:59', '24:00:00.5', '100:00:00', '00:00:00', '-00:00:00.0001', '838:59:59.000000',
//!   '0069-12-31', '0070-01-01 00:00:00', '1970-01-01 00:00:01'),
//!  (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2020-00-15', '2020-02-00 10:00:00', '2000-01-01 00:00:00');
//! CREATE TABLE t_maria (id INT NOT NULL PRIMARY KEY, u UUID, i6 INET6, i4 INET4, jj JSON NOT NULL DEFAULT '{}');
//! INSERT INTO t_maria VALUES (1, '123e4567-e89b-12d3-a456-426655440000', '::1', '10.0.0.1', '{"a": 1}');
//! UPDATE t_num SET i = i - 1 WHERE id = 2;
//! DELETE FROM t_num WHERE id = 3;
//! CREATE TABLE t_min (id INT NOT NULL PRIMARY KEY, e ENUM('a','b'));
//! SET GLOBAL binlog_row_metadata = MINIMAL;
//! INSERT INTO t_min VALUES (1, 'b');
//! SET GLOBAL binlog_row_metadata = FULL;
//! CREATE TABLE t_gbk (id INT NOT NULL PRIMARY KEY, g VARCHAR(5) CHARACTER SET gbk);
//! INSERT INTO t_gbk VALUES (1, 'x');
//! ```

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use base64::Engine;
use logtap_core::envelope::{schema_json, value_json};
use logtap_mysql::types::{
    column_schema, table_columns, BigIntUnsignedMode, BinaryMode, Charset, ColumnType, DecimalMode,
    Flavor, GeometryKind, TableColumns, TimePrecisionMode, TypeError, TypeOptions,
};
use mysql_common::binlog::consts::BinlogVersion;
use mysql_common::binlog::events::{EventData, TableMapEvent};
use mysql_common::binlog::BinlogFile;
use serde_json::{json, Value as Json};

const BINLOG: &str = "
/mJpbkJLA2sPAQAAAPwAAAAAAQAAAQAEADEwLjExLjE5LU1hcmlhREItMCtkZWIxMnUxLWxvZwAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAABM4DQAIABIABAQEBBIAAOQABBoIAAAACAgIAgAAAAoKCgAAAAAAAAoKCgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABBMEAA0ICAgKCgoBhSAm2EJLA2ujAQAAACsAAAArAQAAAAABAAAAAAAAAAEAAAAy
AAAAAAAAAPqfP/1CSwNroQEAAAAoAAAAUwEAAAAADQAAAGJpbmxvZy4wMDAwMDa8ssp9QksDa6EBAAAAKAAAAHsBAAAAAA0A
AABiaW5sb2cuMDAwMDA3lM2RCEJLA2uiAQAAACoAAAClAQAACAAzAAAAAAAAAAAAAAApAAAAAAAA4eOkP0JLA2sCAQAAAGwA
AAARAgAADAAfAAAAAAAAAAYAACMAAAAAAAEBAAAAQAAAAAAGA3N0ZAQtAC0ALQCBigAAAAAAAABtdHlwZXMARFJPUCBEQVRB
QkFTRSBJRiBFWElTVFMgbXR5cGVzO9DAG0JLA2uiAQAAACoAAAA7AgAACAA0AAAAAAAAAAAAAAApAAAAAAAATihpn0JLA2sC
AQAAAIwAAADHAgAACAAfAAAAAAAAAAYAABoAAAAAAAEBAAAAQAAAAAAGA3N0ZAQtAC0ALQBtdHlwZXMAQ1JFQVRFIERBVEFC
QVNFIG10eXBlcyBDSEFSQUNURVIgU0VUIHV0ZjhtYjQgQ09MTEFURSB1dGY4bWI0X2dlbmVyYWxfY2mqeoOfQksDa6IBAAAA
KgAAAPECAAAIADUAAAAAAAAAAAAAACkAAAAAAAC2t+HiQksDawIBAAAA9QEAAOYEAAAAAB8AAAAAAAAABgAAIwAAAAAAAQEA
AABAAAAAAAYDc3RkBC0ALQAtAIGOAAAAAAAAAG10eXBlcwBDUkVBVEUgVEFCTEUgdF9udW0gKAogIGlkIElOVCBOT1QgTlVM
TCBQUklNQVJZIEtFWSwKICB0aSBUSU5ZSU5ULCB0aXUgVElOWUlOVCBVTlNJR05FRCwgc2kgU01BTExJTlQsIHNpdSBTTUFM
TElOVCBVTlNJR05FRCwKICBtaSBNRURJVU1JTlQsIG1pdSBNRURJVU1JTlQgVU5TSUdORUQsIGkgSU5ULCBpdSBJTlQgVU5T
SUdORUQsCiAgYmkgQklHSU5ULCBiaXUgQklHSU5UIFVOU0lHTkVELCBiIEJPT0xFQU4sIHlyIFlFQVIsIGYgRkxPQVQsIGQg
RE9VQkxFLAogIGRlYzEgREVDSU1BTCgxMCwyKSwgZGVjMiBERUNJTUFMKDY1LDMwKSwgZGVjMyBERUNJTUFMKDUsMCkgVU5T
SUdORUQsIGRlYzQgREVDSU1BTCg0LDQpLAogIGJpdDEgQklUKDEpLCBiaXQxMCBCSVQoMTApLCBiaXQ2NCBCSVQoNjQpLCBu
biBJTlQgTk9UIE5VTEwgREVGQVVMVCA3CinXm6B4QksDa6IBAAAAKgAAABAFAAAIADYAAAAAAAAAAAAAAAwAAAAAAADLZIju
QksDa6ABAAAA3AMAAOwIAAAAAElOU0VSVCBJTlRPIHRfbnVtIFZBTFVFUwogKDEsIC0xMjgsIDI1NSwgLTMyNzY4LCA2NTUz
NSwgLTgzODg2MDgsIDE2Nzc3MjE1LCAtMjE0NzQ4MzY0OCwgNDI5NDk2NzI5NSwKICAtOTIyMzM3MjAzNjg1NDc3NTgwOCwg
MTg0NDY3NDQwNzM3MDk1NTE2MTUsIFRSVUUsIDIxNTUsIDMuNDAyODIzNWUzOCwgLTEuNzk3NjkzMTM0ODYyMzE1N2UzMDgs
CiAgLTEyMzQ1Njc4LjkxLCAtMTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDUuMTIzNDU2Nzg5MDEyMzQ1Njc4
OTAxMjM0NTY3ODkwLCA5OTk5OSwgLTAuMDAwMSwKICBiJzEnLCBiJzEwMDAwMDAwMDEnLCBiJzExMTExMTExMTExMTExMTEx
MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTAnLCAtMSksCiAoMiwgMTI3LCAwLCAzMjc2
NywgMCwgODM4ODYwNywgMCwgMjE0NzQ4MzY0NywgMCwKICA5MjIzMzcyMDM2ODU0Nzc1ODA3LCA5MjIzMzcyMDM2ODU0Nzc1
ODA4LCBGQUxTRSwgMTkwMSwgMC4xLCAwLjEsCiAgMC41LCAwLjAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMSwgMCwg
MC41LAogIGInMCcsIGInMDAwMDAwMDAwMCcsIGInMCcsIDApLAogKDMsIE5VTEwsIE5VTEwsIE5VTEwsIE5VTEwsIE5VTEws
IE5VTEwsIE5VTEwsIE5VTEwsIE5VTEwsIE5VTEwsIE5VTEwsIE5VTEwsIE5VTEwsIE5VTEwsIE5VTEwsIE5VTEwsIE5VTEws
IE5VTEwsIE5VTEwsIE5VTEwsIE5VTEwsIDMpLAogKDQsIDAsIDEyOCwgMCwgMzI3NjgsIDAsIDgzODg2MDgsIDAsIDIxNDc0
ODM2NDgsIDAsIDAsIDIsIDAsIC0wLjAsIDFlMzAwLCAwLCAwLCAxLCAwLCBiJzEnLCBiJzExJywgYicxJywgNCksCiAoNSwg
LTEsIDEsIC0xLCAxLCAtMSwgMSwgLTEsIDEsIC0xLCAxLCBUUlVFLCAxOTk5LCAxZS01LCAxZTcsIDk5OTk5OTk5Ljk5LCAx
LjUsIDEyMzQ1LCAwLjk5OTksIGInMCcsIGInMTExMTExMTExMScsIGInMScsIDUpI9hFQEJLA2sTAQAAALkAAAClCQAAAAAn
AAAAAAABAAZtdHlwZXMABXRfbnVtABcDAQECAgkJAwMICAENBAX29vb2EBAQAxAECAoCQR4FAAQEAQACAQAI/v8/AQMqqEAE
VQJpZAJ0aQN0aXUCc2kDc2l1Am1pA21pdQFpAml1AmJpA2JpdQFiAnlyAWYBZARkZWMxBGRlYzIEZGVjMwRkZWM0BGJpdDEF
Yml0MTAFYml0NjQCbm4IAQAlkQmOQksDaxcBAAAA7gEAAJMLAAAAACcAAAAAAAEAF///fwAAgAEAAACA/wCA//8AAID///8A
AACA/////wAAAAAAAACA//////////8B////f3/////////v/39DnrGkf0OescpIQHjK8cs/0PighvikMur/Q56xykhAePyF
gYaff/4BAgH//////////v////8AAIACAAAAfwD/fwAA//9/AAAA////fwAAAAD/////////fwAAAAAAAACAAAHNzMw9mpmZ
mZmZuT+AAAAAMoAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAYAAAJOIAAAAAAAAAAAAAAAAAAAA/v+/AwAAAAMAAAAA
AIAEAAAAAIAAAACAAAAAAACAAAAAAAAAAIAAAAAAAAAAAAAAAAAAAAAAAgAAAAAAnHUAiDzkN36AAAAAAIAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAIAAAYAAAQADAAAAAAAAAAEEAAAAAACABQAAAP8B//8BAP///wEAAP////8BAAAA////////
//8BAAAAAAAAAAFjrMUnNwAAAADQEmNBhfXg/2OAAAAAAAAAAAAAAAAAAAABHc1lAAAAAAAAAAAAAACAMDmnDwAD/wAAAAAA
AAABBQAAAEnEpPNCSwNrEAEAAAAfAAAAsgsAAAAAjwAAAAAAAACbEg4LQksDa6IBAAAAKgAAANwLAAAIADcAAAAAAAAAAAAA
ACkAAAAAAABA724HQksDawIBAAAA2AIAALQOAAAAAB8AAAAAAAAABgAAIwAAAAAAAQEAAABAAAAAAAYDc3RkBC0ALQAtAIGQ
AAAAAAAAAG10eXBlcwBDUkVBVEUgVEFCTEUgdF9zdHIgKAogIGlkIElOVCBOT1QgTlVMTCwKICBjIENIQVIoMTApLCB2YyBW
QVJDSEFSKDEwMCksIHR4IFRFWFQsIGx0IExPTkdURVhULAogIGwxIFZBUkNIQVIoMjApIENIQVJBQ1RFUiBTRVQgbGF0aW4x
LCBhMSBWQVJDSEFSKDEwKSBDSEFSQUNURVIgU0VUIGFzY2lpLAogIHUxNiBWQVJDSEFSKDEwKSBDSEFSQUNURVIgU0VUIHV0
ZjE2LCB1MzIgVkFSQ0hBUigxMCkgQ0hBUkFDVEVSIFNFVCB1dGYzMiwgdWMyIENIQVIoMykgQ0hBUkFDVEVSIFNFVCB1Y3My
LCB1MTZsZSBWQVJDSEFSKDUpIENIQVJBQ1RFUiBTRVQgdXRmMTZsZSwKICB1MyBWQVJDSEFSKDEwKSBDSEFSQUNURVIgU0VU
IHV0ZjhtYjMsCiAgYm4gQklOQVJZKDgpLCB2YiBWQVJCSU5BUlkoMjApLCBibCBCTE9CLCB0YiBUSU5ZQkxPQiwKICBlIEVO
VU0oJ2EnLCdiLGMnLCdkJydlJywneFxceScpICwgcyBTRVQoJ3gnLCd5JywneicsJ3cnKSwgaiBKU09OLAogIGcgR0VPTUVU
UlksIHAgUE9JTlQsIGxzIExJTkVTVFJJTkcsIHBnIFBPTFlHT04sIGdjIEdFT01FVFJZQ09MTEVDVElPTiwKICBlbCBFTlVN
KCfDqScsJ8O8JykgQ0hBUkFDVEVSIFNFVCBsYXRpbjEsCiAgbnQgVkFSQ0hBUig1KSBOT1QgTlVMTCwKICBQUklNQVJZIEtF
WSAodmMoMTApLCBpZCkKKYLqp8NCSwNrogEAAAAqAAAA3g4AAAgAOAAAAAAAAAAAAAAADAAAAAAAAJCyMaFCSwNroAEAAAC9
AwAAmxIAAAAASU5TRVJUIElOVE8gdF9zdHIgVkFMVUVTCiAoMSwgJ2FiYyAgJywgJ2jDqWxsbyDwn5GLJywgJ3RleHQnLCBS
RVBFQVQoJ3gnLCAzMDApLCAnY2Fmw6kg4oKsJywgJ2FzY2lpJywgJ8O84oKs8J2EnicsICfDvOKCrPCdhJ4nLCAnw7zigqwn
LCAnw7zigqzwnYSeJywgJ8O84oKsJywKICBYJzAxMDInLCBYJzAwZmYwMCcsIFgnZGVhZGJlZWYnLCBYJycsCiAgJ2IsYycs
ICd4LHosdycsICd7ImIiOiAxLCAiYSI6IFt0cnVlLCBudWxsLCAxLjVlMzAwLCAic1xcInEiXX0nLAogIFNUX0dlb21Gcm9t
VGV4dCgnUE9JTlQoMSAyKScsIDQzMjYpLCBTVF9HZW9tRnJvbVRleHQoJ1BPSU5UKDMuNSAtNC4yNSknKSwgU1RfR2VvbUZy
b21UZXh0KCdMSU5FU1RSSU5HKDAgMCwxIDEpJyksCiAgU1RfR2VvbUZyb21UZXh0KCdQT0xZR09OKCgwIDAsMSAwLDEgMSww
IDApKScpLCBTVF9HZW9tRnJvbVRleHQoJ0dFT01FVFJZQ09MTEVDVElPTihQT0lOVCgxIDEpKScpLAogICfDqScsICcnKSwK
ICgyLCAnJywgJycsICcnLCAnJywgJycsICcnLCAnJywgJycsICcnLCAnJywgJycsIFgnJywgWCcnLCBYJycsIE5VTEwsICcn
LCAnJywgTlVMTCwgTlVMTCwgTlVMTCwgTlVMTCwgTlVMTCwgTlVMTCwgJ8O8JywgJ3gnKSwKICgzLCBOVUxMLCAnbicsIE5V
TEwsIE5VTEwsIE5VTEwsIE5VTEwsIE5VTEwsIE5VTEwsIE5VTEwsIE5VTEwsIE5VTEwsIE5VTEwsIE5VTEwsIE5VTEwsIE5V
TEwsIE5VTEwsIE5VTEwsIE5VTEwsIE5VTEwsIE5VTEwsIE5VTEwsIE5VTEwsIE5VTEwsIE5VTEwsICd5JyksCiAoNCwgJ3gn
LCAnZm91cicsICd0JywgJ2wnLCAneCcsICd4JywgJ3gnLCAneCcsICd4JywgJ3gnLCAneCcsIFgnMDEwMjAzMDQwNTA2MDcw
OCcsIFgnJywgWCcnLCBYJzAxJywgJ3hcXHknLCAnJywgJ1tdJywgTlVMTCwgTlVMTCwgTlVMTCwgTlVMTCwgTlVMTCwgJ8Op
JywgJ3onKWlFEphCSwNrEwEAAAAUAQAArxMAAAAAKAAAAAAAAQAGbXR5cGVzAAV0X3N0cgAaA/4P/PwPDw8P/g8P/g/8/P7+
/P///////g8o/iiQAQIEFAAKACgAKAD+BhQAHgD+CBQAAgH3AfgBBAQEBAQE9wEUAPr//wEBAQADFi0tLS0ICzY8IzghPz8/
Py4/Pz8/Py0HBQABAgMHBE4CaWQBYwJ2YwJ0eAJsdAJsMQJhMQN1MTYDdTMyA3VjMgV1MTZsZQJ1MwJibgJ2YgJibAJ0YgFl
AXMBagFnAXACbHMCcGcCZ2MCZWwCbnQKAy0CCAUJBAF4AXkBegF3BhQEAWEDYixjA2QnZQN4XHkCAekB/AkEAgoAAKG8nKZC
SwNrFwEAAABFAwAA9BYAAAAAKAAAAAAAAQAa////AwAAAPwBAAAAA2FiYwsAaMOpbGxvIPCfkYsEAHRleHQsAQAAeHh4eHh4
eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4
eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4
eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4
eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4
eHh4eHh4BmNhZukggAVhc2NpaQgA/CCs2DTdHgwAAAD8AAAgrAAB0R4EAPwgrAj8AKwgNNge3QXDvOKCrAIBAgMA/wAEAN6t
vu8AAg0sAAAAeyJiIjogMSwgImEiOiBbdHJ1ZSwgbnVsbCwgMS41ZTMwMCwgInNcInEiXX0ZAAAA5hAAAAEBAAAAAAAAAAAA
8D8AAAAAAAAAQBkAAAAAAAAAAQEAAAAAAAAAAAAMQAAAAAAAABHALQAAAAAAAAABAgAAAAIAAAAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAA8D8AAAAAAADwP1EAAAAAAAAAAQMAAAABAAAABAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAADwPwAAAAAAAAAAAAAA
AAAA8D8AAAAAAADwPwAAAAAAAAAAAAAAAAAAAAAiAAAAAAAAAAEHAAAAAQAAAAEBAAAAAAAAAAAA8D8AAAAAAADwPwEAAID8
/AIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAgF4+v///QMAAAABAG4BeQAA+PwEAAAAAXgEAGZvdXIBAHQBAAAAbAF4AXgC
AHgEAAAAeAIAeAJ4AAF4CAECAwQFBgcIAAAAAQEEAAIAAABbXQEBeotnGdZCSwNrEAEAAAAfAAAAExcAAAAAkQAAAAAAAADv
WJqfQksDa6IBAAAAKgAAAD0XAAAIADkAAAAAAAAAAAAAACkAAAAAAACSUNFUQksDawIBAAAADQIAAEoZAAAAAB8AAAAAAAAA
BgAAKwAAAAAAAQEAAABAAAAAAAYDc3RkBC0ALQAtAAUGKzAwOjAwgZIAAAAAAAAAbXR5cGVzAENSRUFURSBUQUJMRSB0X3Rp
bWUgKAogIGlkIElOVCBOT1QgTlVMTCBQUklNQVJZIEtFWSwKICBkIERBVEUsIGR0IERBVEVUSU1FLCBkdDEgREFURVRJTUUo
MSksIGR0MyBEQVRFVElNRSgzKSwgZHQ2IERBVEVUSU1FKDYpLAogIHRzIFRJTUVTVEFNUCBOVUxMIERFRkFVTFQgTlVMTCwg
dHMxIFRJTUVTVEFNUCgxKSBOVUxMIERFRkFVTFQgTlVMTCwgdHMzIFRJTUVTVEFNUCgzKSBOVUxMIERFRkFVTFQgTlVMTCwg
dHM2IFRJTUVTVEFNUCg2KSBOVUxMIERFRkFVTFQgTlVMTCwKICB0IFRJTUUsIHQxIFRJTUUoMSksIHQyIFRJTUUoMiksIHQz
IFRJTUUoMyksIHQ0IFRJTUUoNCksIHQ2IFRJTUUoNiksCiAgZG5uIERBVEUgTk9UIE5VTEwsIGR0bm4gREFURVRJTUUgTk9U
IE5VTEwsIHRzbm4gVElNRVNUQU1QIE5PVCBOVUxMIERFRkFVTFQgJzIwMDAtMDEtMDEgMDA6MDA6MDAnCinUy5mkQksDa6IB
AAAAKgAAAHQZAAAIADoAAAAAAAAAAAAAAAwAAAAAAACuNp86QksDa6ABAAAAQAUAALQeAAAAAElOU0VSVCBJTlRPIHRfdGlt
ZSBWQUxVRVMKICgxLCAnMjAxOC0wNi0yMCcsICcyMDE4LTA2LTIwIDA2OjM3OjAzJywgJzIwMTgtMDYtMjAgMDY6Mzc6MDMu
NScsICcyMDE4LTA2LTIwIDA2OjM3OjAzLjEyMycsICcyMDE4LTA2LTIwIDA2OjM3OjAzLjEyMzQ1NicsCiAgJzIwMTgtMDYt
MjAgMTM6Mzc6MDMnLCAnMjAxOC0wNi0yMCAxMzozNzowMy4xJywgJzIwMTgtMDYtMjAgMTM6Mzc6MDMuMTIwJywgJzIwMTgt
MDYtMjAgMTM6Mzc6MDMuMDAwMDAxJywKICAnMTI6MzQ6NTYnLCAnMTI6MzQ6NTYuNycsICcxMjozNDo1Ni43OCcsICcxMjoz
NDo1Ni43ODknLCAnMTI6MzQ6NTYuNzg5MScsICcxMjozNDo1Ni43ODkxMjMnLAogICcyMDE4LTA2LTIwJywgJzIwMTgtMDYt
MjAgMDY6Mzc6MDMnLCAnMjAxOC0wNi0yMCAxMzozNzowMycpLAogKDIsICcwMDAwLTAwLTAwJywgJzAwMDAtMDAtMDAgMDA6
MDA6MDAnLCAnMDAwMC0wMC0wMCAwMDowMDowMCcsICcwMDAwLTAwLTAwIDAwOjAwOjAwJywgJzAwMDAtMDAtMDAgMDA6MDA6
MDAnLAogICcwMDAwLTAwLTAwIDAwOjAwOjAwJywgJzAwMDAtMDAtMDAgMDA6MDA6MDAnLCAnMDAwMC0wMC0wMCAwMDowMDow
MCcsICcwMDAwLTAwLTAwIDAwOjAwOjAwJywKICAnLTgzODo1OTo1OScsICctMDA6MDA6MDEnLCAnLTAxOjAwOjAwJywgJy0w
MTowMjowMy4wMDQnLCAnLTgzODo1OTo1OS45OTk5JywgJy0wMDowMDowMC4wMDAwMDEnLAogICcwMDAwLTAwLTAwJywgJzAw
MDAtMDAtMDAgMDA6MDA6MDAnLCAnMDAwMC0wMC0wMCAwMDowMDowMCcpLAogKDMsICcxMDAwLTAxLTAxJywgJzk5OTktMTIt
MzEgMjM6NTk6NTknLCAnMTk2OS0xMi0zMSAyMzo1OTo1OS45JywgJzE5NjktMTItMzEgMjM6NTk6NTkuOTk5JywgJzE5Njkt
MTItMzEgMjM6NTk6NTkuOTk5OTk5JywKICAnMTk3MC0wMS0wMSAwMDowMDowMScsICcyMDM4LTAxLTE5IDAzOjE0OjA3Ljkn
LCAnMjAzOC0wMS0xOSAwMzoxNDowNy45OTknLCAnMjAzOC0wMS0xOSAwMzoxNDowNy45OTk5OTknLAogICc4Mzg6NTk6NTkn
LCAnMjQ6MDA6MDAuNScsICcxMDA6MDA6MDAnLCAnMDA6MDA6MDAnLCAnLTAwOjAwOjAwLjAwMDEnLCAnODM4OjU5OjU5LjAw
MDAwMCcsCiAgJzAwNjktMTItMzEnLCAnMDA3MC0wMS0wMSAwMDowMDowMCcsICcxOTcwLTAxLTAxIDAwOjAwOjAxJyksCiAo
NCwgTlVMTCwgTlVMTCwgTlVMTCwgTlVMTCwgTlVMTCwgTlVMTCwgTlVMTCwgTlVMTCwgTlVMTCwgTlVMTCwgTlVMTCwgTlVM
TCwgTlVMTCwgTlVMTCwgTlVMTCwgJzIwMjAtMDAtMTUnLCAnMjAyMC0wMi0wMCAxMDowMDowMCcsICcyMDAwLTAxLTAxIDAw
OjAwOjAwJykJsSqKQksDaxMBAAAAoQAAAFUfAAAAACkAAAAAAAEABm10eXBlcwAGdF90aW1lABMDChISEhIRERERExMTExMT
ChIREAABAwYAAQMGAAECAwQGAAD+/wABAQAEQgJpZAFkAmR0A2R0MQNkdDMDZHQ2AnRzA3RzMQN0czMDdHM2AXQCdDECdDIC
dDMCdDQCdDYDZG5uBGR0bm4EdHNubggBAMrEUdJCSwNrFwEAAABZAQAAriAAAAAAKQAAAAAAAQAT//8HAAD4AQAAANTED5mg
KGlDmaAoaUMymaAoaUMEzpmgKGlDAeJAWypYf1sqWH8KWypYfwSwWypYfwAAAYDIuIDIuEaAyLhOgMi4HtKAyLge04DIuAwK
g9TED5mgKGlDWypYfwAA+AIAAAAAAACAAAAAAIAAAAAAAIAAAAAAAACAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABL
kQV///8Af/AAAH/vfP/YS5EE2PF///////8AAACAAAAAAAAAAAAAAPgDAAAAIdAH/vP/fvuZAn9++1qZAn9++ycGmQJ/fvsP
Qj8AAAABf////1p/////JwZ/////D0I/tG77gYAAMoZAAACAAAAAAH//////tG77AAAAn4sAgOPCAAAAAAAB/v/4BAAAAA/I
D5mlgKAAOG1DgMGTh2lCSwNrEAEAAAAfAAAAzSAAAAAAkwAAAAAAAAAaxVbIQksDa6IBAAAAKgAAAPcgAAAIADsAAAAAAAAA
AAAAACkAAAAAAADz/6o6QksDawIBAAAAuwAAALIhAAAAAB8AAAAAAAAABgAAIwAAAAAAAQEAAABAAAAAAAYDc3RkBC0ALQAt
AIGUAAAAAAAAAG10eXBlcwBDUkVBVEUgVEFCTEUgdF9tYXJpYSAoaWQgSU5UIE5PVCBOVUxMIFBSSU1BUlkgS0VZLCB1IFVV
SUQsIGk2IElORVQ2LCBpNCBJTkVUNCwgamogSlNPTiBOT1QgTlVMTCBERUZBVUxUICd7fScp3FCPH0JLA2uiAQAAACoAAADc
IQAACAA8AAAAAAAAAAAAAAAMAAAAAAAAnGz8xUJLA2ugAQAAAHwAAABYIgAAAABJTlNFUlQgSU5UTyB0X21hcmlhIFZBTFVF
UyAoMSwgJzEyM2U0NTY3LWU4OWItMTJkMy1hNDU2LTQyNjY1NTQ0MDAwMCcsICc6OjEnLCAnMTAuMC4wLjEnLCAneyJhIjog
MX0nKbfXxtBCSwNrEwEAAABaAAAAsiIAAAAAKgAAAAAAAQAGbXR5cGVzAAd0X21hcmlhAAUD/v7+/Af+EP4Q/gQEDgEBAAID
PwMuBA4CaWQBdQJpNgJpNAJqaggBAFc3sEhCSwNrFwEAAABXAAAACSMAAAAAKgAAAAAAAQAFH+ABAAAADhI+RWfomxLTpFZC
ZlVEEAAAAAAAAAAAAAAAAAAAAAEECgAAAQgAAAB7ImEiOiAxfb4novlCSwNrEAEAAAAfAAAAKCMAAAAAlQAAAAAAAAD1rv44
QksDa6IBAAAAKgAAAFIjAAAIAD0AAAAAAAAAAAAAAAwAAAAAAABp7t8hQksDa6ABAAAAPgAAAJAjAAAAAFVQREFURSB0X251
bSBTRVQgaSA9IGkgLSAxIFdIRVJFIGlkID0gMjoVXdNCSwNrEwEAAAC5AAAASSQAAAAAJwAAAAAAAQAGbXR5cGVzAAV0X251
bQAXAwEBAgIJCQMDCAgBDQQF9vb29hAQEAMQBAgKAkEeBQAEBAEAAgEACP7/PwEDKqhABFUCaWQCdGkDdGl1AnNpA3NpdQJt
aQNtaXUBaQJpdQJiaQNiaXUBYgJ5cgFmAWQEZGVjMQRkZWMyBGRlYzMEZGVjNARiaXQxBWJpdDEwBWJpdDY0Am5uCAEA1Y+7
CUJLA2sYAQAAAAYBAABPJQAAAAAnAAAAAAABABf//3///38AAIACAAAAfwD/fwAA//9/AAAA////fwAAAAD/////////fwAA
AAAAAACAAAHNzMw9mpmZmZmZuT+AAAAAMoAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAYAAAJOIAAAAAAAAAAAAAAAA
AAAAAACAAgAAAH8A/38AAP//fwAAAP7//38AAAAA/////////38AAAAAAAAAgAABzczMPZqZmZmZmbk/gAAAADKAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAGAAACTiAAAAAAAAAAAAAAAAAAAAJ8udC5CSwNrEAEAAAAfAAAAbiUAAAAAlgAAAAAA
AACMyu+vQksDa6IBAAAAKgAAAJglAAAIAD4AAAAAAAAAAAAAAAwAAAAAAAAwJd6YQksDa6ABAAAANQAAAM0lAAAAAERFTEVU
RSBGUk9NIHRfbnVtIFdIRVJFIGlkID0gM2iKo6RCSwNrEwEAAAC5AAAAhiYAAAAAJwAAAAAAAQAGbXR5cGVzAAV0X251bQAX
AwEBAgIJCQMDCAgBDQQF9vb29hAQEAMQBAgKAkEeBQAEBAEAAgEACP7/PwEDKqhABFUCaWQCdGkDdGl1AnNpA3NpdQJtaQNt
aXUBaQJpdQJiaQNiaXUBYgJ5cgFmAWQEZGVjMQRkZWMyBGRlYzMEZGVjNARiaXQxBWJpdDEwBWJpdDY0Am5uCAEALZnDikJL
A2sZAQAAAC4AAAC0JgAAAAAnAAAAAAABABf//3/+/78DAAAAAwAAAL/97itCSwNrEAEAAAAfAAAA0yYAAAAAlwAAAAAAAADR
fdBBQksDa6IBAAAAKgAAAP0mAAAIAD8AAAAAAAAAAAAAACkAAAAAAACrFZLfQksDawIBAAAAjwAAAIwnAAAAAB8AAAAAAAAA
BgAAIwAAAAAAAQEAAABAAAAAAAYDc3RkBC0ALQAtAIGYAAAAAAAAAG10eXBlcwBDUkVBVEUgVEFCTEUgdF9taW4gKGlkIElO
VCBOT1QgTlVMTCBQUklNQVJZIEtFWSwgZSBFTlVNKCdhJywnYicpKSy3zd9CSwNrogEAAAAqAAAAticAAAgAQAAAAAAAAAAA
AAAADAAAAAAAAFLvqFpCSwNroAEAAAA4AAAA7icAAAAASU5TRVJUIElOVE8gdF9taW4gVkFMVUVTICgxLCAnYicp8Gq4L0JL
A2sTAQAAADgAAAAmKAAAAAArAAAAAAABAAZtdHlwZXMABXRfbWluAAID/gL3AQIBAQDd4oNpQksDaxcBAAAAJwAAAE0oAAAA
ACsAAAAAAAEAAgP8AQAAAALVzg/UQksDaxABAAAAHwAAAGwoAAAAAJoAAAAAAAAAEHsCXkJLA2uiAQAAACoAAACWKAAACABB
AAAAAAAAAAAAAAApAAAAAAAAJDz0Q0JLA2sCAQAAAJ4AAAA0KQAAAAAfAAAAAAAAAAYAACMAAAAAAAEBAAAAQAAAAAAGA3N0
ZAQtAC0ALQCBnAAAAAAAAABtdHlwZXMAQ1JFQVRFIFRBQkxFIHRfZ2JrIChpZCBJTlQgTk9UIE5VTEwgUFJJTUFSWSBLRVks
IGcgVkFSQ0hBUig1KSBDSEFSQUNURVIgU0VUIGdiaynkxnVRQksDa6IBAAAAKgAAAF4pAAAIAEIAAAAAAAAAAAAAAAwAAAAA
AABs8A7GQksDa6ABAAAAOAAAAJYpAAAAAElOU0VSVCBJTlRPIHRfZ2JrIFZBTFVFUyAoMSwgJ3gnKXEoDuVCSwNrEwEAAABF
AAAA2ykAAAAALAAAAAAAAQAGbXR5cGVzAAV0X2diawACAw8CCgACAQEAAgEcBAUCaWQBZwgBAMbN29VCSwNrFwEAAAAoAAAA
AyoAAAAALAAAAAAAAQACA/wBAAAAAXh+YbCnQksDaxABAAAAHwAAACIqAAAAAJ0AAAAAAAAAM2W5vg==";

fn binlog() -> Vec<u8> {
    let text: String = BINLOG.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD.decode(text).unwrap()
}

/// One rows event's rows (before images first for updates), per table.
struct Decoded {
    tables: Vec<(String, Result<TableColumns, TypeError>)>,
    /// (table, row as {column: value}) with the given options.
    rows: Vec<(String, Json)>,
}

fn decode(opts: &TypeOptions) -> Decoded {
    let bytes = binlog();
    let file = BinlogFile::new(BinlogVersion::Version4, &bytes[..]).unwrap();
    let mut maps: HashMap<u64, (TableMapEvent<'static>, Result<TableColumns, TypeError>)> =
        HashMap::new();
    let mut out = Decoded { tables: Vec::new(), rows: Vec::new() };
    for ev in file {
        let ev = ev.unwrap();
        match ev.read_data().unwrap() {
            Some(EventData::TableMapEvent(tme)) => {
                let cols = table_columns(&tme, Flavor::Mariadb);
                let name = tme.table_name().into_owned();
                if !out.tables.iter().any(|(n, _)| *n == name) {
                    out.tables.push((name, cols.clone()));
                }
                maps.insert(tme.table_id(), (tme.into_owned(), cols));
            }
            Some(EventData::RowsEvent(re)) => {
                let (tme, cols) = &maps[&re.table_id()];
                let Ok(cols) = cols else { continue };
                for r in re.rows(tme) {
                    let (before, after) = r.unwrap();
                    for row in [before, after].into_iter().flatten() {
                        let mut m = serde_json::Map::new();
                        for (i, c) in cols.columns.iter().enumerate() {
                            let conv = column_schema(&c.column_type, c.nullable, opts);
                            let v = conv
                                .convert(row.as_ref(i).unwrap())
                                .unwrap_or_else(|e| panic!("{}.{}: {e}", cols.table, c.name));
                            m.insert(c.name.clone(), value_json(&v));
                        }
                        out.rows.push((cols.table.clone(), Json::Object(m)));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn table<'a>(d: &'a Decoded, name: &str) -> &'a TableColumns {
    d.tables.iter().find(|(n, _)| n == name).unwrap().1.as_ref().unwrap()
}

fn rows(d: &Decoded, name: &str) -> Vec<Json> {
    d.rows.iter().filter(|(t, _)| t == name).map(|(_, r)| r.clone()).collect()
}

fn assert_rows(actual: &[Json], expected: &[Json]) {
    assert_eq!(actual.len(), expected.len());
    for (a, e) in actual.iter().zip(expected) {
        let (a, e) = (a.as_object().unwrap(), e.as_object().unwrap());
        assert_eq!(a.len(), e.len(), "{a:?}");
        for (k, v) in e {
            assert_eq!(&a[k], v, "column {k} of {e:?}");
        }
    }
}

#[test]
fn resolves_table_maps() {
    let d = decode(&TypeOptions::default());
    let num = table(&d, "t_num");
    assert_eq!(num.database, "mtypes");
    assert_eq!(num.primary_key, vec![0]);
    let types: Vec<_> =
        num.columns.iter().map(|c| (c.name.as_str(), c.column_type.clone(), c.nullable)).collect();
    assert_eq!(types[0], ("id", ColumnType::Int { unsigned: false }, false));
    assert_eq!(types[2], ("tiu", ColumnType::TinyInt { unsigned: true }, true));
    assert_eq!(types[10], ("biu", ColumnType::BigInt { unsigned: true }, true));
    assert_eq!(types[11], ("b", ColumnType::TinyInt { unsigned: false }, true));
    assert_eq!(types[12], ("yr", ColumnType::Year, true));
    assert_eq!(types[13].1, ColumnType::Float);
    assert_eq!(types[14].1, ColumnType::Double);
    assert_eq!(types[16].1, ColumnType::Decimal { precision: 65, scale: 30 });
    // The signedness list counts YEAR: DECIMAL(5,0) UNSIGNED after it is unsigned.
    assert_eq!(types[17].1, ColumnType::Decimal { precision: 5, scale: 0 });
    assert_eq!(types[19].1, ColumnType::Bit { length: 1 });
    assert_eq!(types[20].1, ColumnType::Bit { length: 10 });
    assert_eq!(types[21].1, ColumnType::Bit { length: 64 });
    assert_eq!(types[22], ("nn", ColumnType::Int { unsigned: false }, false));

    let s = table(&d, "t_str");
    // PRIMARY KEY (vc(10), id): a prefixed key, in key order.
    assert_eq!(s.primary_key, vec![2, 0]);
    let t = |name: &str| s.columns.iter().find(|c| c.name == name).unwrap().column_type.clone();
    assert_eq!(t("c"), ColumnType::Text { charset: Charset::Utf8 });
    assert_eq!(t("l1"), ColumnType::Text { charset: Charset::Latin1 });
    assert_eq!(t("a1"), ColumnType::Text { charset: Charset::Ascii });
    assert_eq!(t("u16"), ColumnType::Text { charset: Charset::Utf16 });
    assert_eq!(t("u32"), ColumnType::Text { charset: Charset::Utf32 });
    assert_eq!(t("uc2"), ColumnType::Text { charset: Charset::Ucs2 });
    assert_eq!(t("u16le"), ColumnType::Text { charset: Charset::Utf16Le });
    assert_eq!(t("u3"), ColumnType::Text { charset: Charset::Utf8 });
    assert_eq!(t("bn"), ColumnType::Binary { pad_to: Some(8) });
    assert_eq!(t("vb"), ColumnType::Binary { pad_to: None });
    assert_eq!(t("bl"), ColumnType::Binary { pad_to: None });
    assert_eq!(
        t("e"),
        ColumnType::Enum { labels: vec!["a".into(), "b,c".into(), "d'e".into(), "x\\y".into()] }
    );
    assert_eq!(
        t("s"),
        ColumnType::Set { labels: vec!["x".into(), "y".into(), "z".into(), "w".into()] }
    );
    // MariaDB's JSON is a LONGTEXT (utf8mb4_bin) in the binlog.
    assert_eq!(t("j"), ColumnType::Text { charset: Charset::Utf8 });
    assert_eq!(t("g"), ColumnType::Geometry { kind: GeometryKind::Geometry });
    assert_eq!(t("p"), ColumnType::Geometry { kind: GeometryKind::Point });
    assert_eq!(t("ls"), ColumnType::Geometry { kind: GeometryKind::LineString });
    assert_eq!(t("pg"), ColumnType::Geometry { kind: GeometryKind::Polygon });
    assert_eq!(t("gc"), ColumnType::Geometry { kind: GeometryKind::GeometryCollection });
    // A latin1 ENUM's labels are decoded in its own character set; the
    // character sets after the geometry columns are not shifted.
    assert_eq!(t("el"), ColumnType::Enum { labels: vec!["é".into(), "ü".into()] });
    assert_eq!(t("nt"), ColumnType::Text { charset: Charset::Utf8 });

    let tt = table(&d, "t_time");
    let t = |name: &str| tt.columns.iter().find(|c| c.name == name).unwrap().column_type.clone();
    assert_eq!(t("d"), ColumnType::Date);
    assert_eq!(t("dt3"), ColumnType::DateTime { fsp: 3 });
    assert_eq!(t("ts6"), ColumnType::Timestamp { fsp: 6 });
    assert_eq!(t("t4"), ColumnType::Time { fsp: 4 });

    // MariaDB's UUID, INET6 and INET4 are fixed binary strings in the binlog.
    let m = table(&d, "t_maria");
    assert_eq!(m.columns[1].column_type, ColumnType::Binary { pad_to: Some(16) });
    assert_eq!(m.columns[3].column_type, ColumnType::Binary { pad_to: Some(4) });

    // A TABLE_MAP written with binlog_row_metadata = MINIMAL is refused.
    let min = &d.tables.iter().find(|(n, _)| n == "t_min").unwrap().1;
    let err = min.as_ref().unwrap_err().to_string();
    assert!(err.contains("binlog_row_metadata = FULL"), "{err}");
    assert!(err.contains("mtypes.t_min"), "{err}");
    // A character set logtap does not decode is refused, naming the column.
    let gbk = &d.tables.iter().find(|(n, _)| n == "t_gbk").unwrap().1;
    let err = gbk.as_ref().unwrap_err().to_string();
    assert_eq!(
        err,
        "table `mtypes.t_gbk` column `g`: character set gbk (collation id 28) is not supported"
    );
}

#[test]
fn schemas() {
    let d = decode(&TypeOptions::default());
    let schema = |t: &str, c: &str| {
        let cols = table(&d, t);
        let col = cols.columns.iter().find(|x| x.name == c).unwrap();
        schema_json(column_schema(&col.column_type, col.nullable, &TypeOptions::default()).schema())
    };
    assert_eq!(schema("t_num", "id"), json!({"type": "int32", "optional": false}));
    assert_eq!(schema("t_num", "tiu"), json!({"type": "int16", "optional": true}));
    assert_eq!(schema("t_num", "siu"), json!({"type": "int32", "optional": true}));
    assert_eq!(schema("t_num", "miu"), json!({"type": "int32", "optional": true}));
    assert_eq!(schema("t_num", "iu"), json!({"type": "int64", "optional": true}));
    assert_eq!(schema("t_num", "biu"), json!({"type": "int64", "optional": true}));
    assert_eq!(schema("t_num", "f"), json!({"type": "float", "optional": true}));
    assert_eq!(
        schema("t_num", "dec1").to_string(),
        r#"{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2","connect.decimal.precision":"10"}}"#
    );
    assert_eq!(
        schema("t_num", "bit10").to_string(),
        r#"{"type":"bytes","optional":true,"name":"io.debezium.data.Bits","version":1,"parameters":{"length":"10"}}"#
    );
    assert_eq!(schema("t_num", "bit1"), json!({"type": "boolean", "optional": true}));
    assert_eq!(
        schema("t_num", "yr").to_string(),
        r#"{"type":"int32","optional":true,"name":"io.debezium.time.Year","version":1}"#
    );
    assert_eq!(
        schema("t_str", "e").to_string(),
        r#"{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"a,b\\,c,d'e,x\\\\y"}}"#
    );
    assert_eq!(
        schema("t_str", "s").to_string(),
        r#"{"type":"string","optional":true,"name":"io.debezium.data.EnumSet","version":1,"parameters":{"allowed":"x,y,z,w"}}"#
    );
    assert_eq!(schema("t_str", "vc"), json!({"type": "string", "optional": false}));
    assert_eq!(schema("t_str", "bn"), json!({"type": "bytes", "optional": true}));
    assert_eq!(
        schema("t_str", "g").to_string(),
        r#"{"type":"struct","fields":[{"type":"bytes","optional":false,"field":"wkb"},{"type":"int32","optional":true,"field":"srid"}],"optional":true,"name":"io.debezium.data.geometry.Geometry","version":1,"doc":"Geometry"}"#
    );
    assert_eq!(
        schema("t_str", "p").to_string(),
        r#"{"type":"struct","fields":[{"type":"double","optional":false,"field":"x"},{"type":"double","optional":false,"field":"y"},{"type":"bytes","optional":true,"field":"wkb"},{"type":"int32","optional":true,"field":"srid"}],"optional":true,"name":"io.debezium.data.geometry.Point","version":1,"doc":"Geometry (POINT)"}"#
    );
    assert_eq!(
        schema("t_time", "d").to_string(),
        r#"{"type":"int32","optional":true,"name":"io.debezium.time.Date","version":1}"#
    );
    assert_eq!(
        schema("t_time", "dt3").to_string(),
        r#"{"type":"int64","optional":true,"name":"io.debezium.time.Timestamp","version":1}"#
    );
    assert_eq!(
        schema("t_time", "dt6").to_string(),
        r#"{"type":"int64","optional":true,"name":"io.debezium.time.MicroTimestamp","version":1}"#
    );
    assert_eq!(
        schema("t_time", "ts").to_string(),
        r#"{"type":"string","optional":true,"name":"io.debezium.time.ZonedTimestamp","version":1}"#
    );
    assert_eq!(
        schema("t_time", "t").to_string(),
        r#"{"type":"int64","optional":true,"name":"io.debezium.time.MicroTime","version":1}"#
    );
    assert_eq!(
        schema("t_time", "dnn").to_string(),
        r#"{"type":"int32","optional":false,"name":"io.debezium.time.Date","version":1}"#
    );
}

#[test]
fn numbers_with_default_options() {
    let d = decode(&TypeOptions::default());
    let expected = [
        // Minimums (MEDIUMINT -8388608 arrives from mysql_common as
        // 8388608: its 24-bit reader does not extend the sign), maximums of
        // the unsigned types; BIGINT UNSIGNED wraps like a Java long.
        json!({"id":1,"ti":-128,"tiu":255,"si":-32768,"siu":65535,"mi":-8388608,"miu":16777215,
               "i":-2147483648,"iu":4294967295u64,"bi":-9223372036854775808i64,"biu":-1,"b":1,
               "yr":2155,"f":3.4028235e38,"d":-1.7976931348623157e308,
               // -1234567891, -123...890 (65 digits), 99999, -1
               "dec1":"tmn9LQ==","dec2":"4f1D4Wh6dCOTRq+nDL2ygsWAE4T8HZlxwPUu","dec3":"AYaf","dec4":"/w==",
               // BIT(10) b'1000000001' is 0x0201, sent little-endian
               "bit1":true,"bit10":"AQI=","bit64":"/v////////8=","nn":-1}),
        json!({"id":2,"ti":127,"tiu":0,"si":32767,"siu":0,"mi":8388607,"miu":0,"i":2147483647,
               "iu":0,"bi":9223372036854775807i64,"biu":-9223372036854775808i64,"b":0,"yr":1901,
               "f":0.1,"d":0.1,"dec1":"Mg==","dec2":"AQ==","dec3":"AA==","dec4":"E4g=",
               "bit1":false,"bit10":"AAA=","bit64":"AAAAAAAAAAA=","nn":0}),
        json!({"id":3,"ti":null,"tiu":null,"si":null,"siu":null,"mi":null,"miu":null,"i":null,
               "iu":null,"bi":null,"biu":null,"b":null,"yr":null,"f":null,"d":null,"dec1":null,
               "dec2":null,"dec3":null,"dec4":null,"bit1":null,"bit10":null,"bit64":null,"nn":3}),
        // YEAR 0000 is 1900 (the binlog client reads 1900 + the stored byte).
        json!({"id":4,"ti":0,"tiu":128,"si":0,"siu":32768,"mi":0,"miu":8388608,"i":0,
               "iu":2147483648u64,"bi":0,"biu":0,"b":2,"yr":1900,"f":0.0,"d":1e300,"dec1":"AA==",
               "dec2":"AA==","dec3":"AQ==","dec4":"AA==","bit1":true,"bit10":"AwA=",
               "bit64":"AQAAAAAAAAA=","nn":4}),
        json!({"id":5,"ti":-1,"tiu":1,"si":-1,"siu":1,"mi":-1,"miu":1,"i":-1,"iu":1,"bi":-1,
               "biu":1,"b":1,"yr":1999,"f":0.00001,"d":10000000.0,"dec1":"AlQL4/8=",
               "dec2":"Eu7C6zhpr2TfYAAAAA==","dec3":"MDk=","dec4":"Jw8=","bit1":false,
               "bit10":"/wM=","bit64":"AQAAAAAAAAA=","nn":5}),
    ];
    let mut all = expected.to_vec();
    // UPDATE ... WHERE id = 2 (before, after), DELETE ... WHERE id = 3.
    all.push(expected[1].clone());
    let mut after = expected[1].clone();
    after["i"] = json!(2147483646);
    all.push(after);
    all.push(expected[2].clone());
    assert_rows(&rows(&d, "t_num"), &all);
}

#[test]
fn numbers_with_other_modes() {
    let opts = TypeOptions {
        decimal: DecimalMode::String,
        bigint_unsigned: BigIntUnsignedMode::Precise,
        ..TypeOptions::default()
    };
    let d = decode(&opts);
    let r = rows(&d, "t_num");
    assert_eq!(r[0]["dec1"], json!("-12345678.91"));
    assert_eq!(
        r[0]["dec2"],
        json!("-12345678901234567890123456789012345.123456789012345678901234567890")
    );
    assert_eq!(r[1]["dec2"], json!("0.000000000000000000000000000001"));
    assert_eq!(r[1]["dec4"], json!("0.5000"));
    assert_eq!(r[3]["dec1"], json!("0.00"));
    // 18446744073709551615 as BigInteger.toByteArray(): 00 ff*8.
    assert_eq!(r[0]["biu"], json!("AP//////////"));
    assert_eq!(r[1]["biu"], json!("AIAAAAAAAAAA"));
    assert_eq!(r[3]["biu"], json!("AA=="));
    let cols = table(&d, "t_num");
    let biu = &cols.columns[10];
    assert_eq!(
        schema_json(column_schema(&biu.column_type, biu.nullable, &opts).schema()).to_string(),
        r#"{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"0","connect.decimal.precision":"20"}}"#
    );

    let d = decode(&TypeOptions { decimal: DecimalMode::Double, ..TypeOptions::default() });
    let r = rows(&d, "t_num");
    assert_eq!(r[0]["dec1"], json!(-12345678.91));
    assert_eq!(r[0]["dec3"], json!(99999.0));
    assert_eq!(r[1]["dec2"], json!(1e-30));
}

#[test]
fn strings_with_default_options() {
    let d = decode(&TypeOptions::default());
    let long = "x".repeat(300);
    let expected = [
        json!({"id":1,"c":"abc","vc":"héllo 👋","tx":"text","lt":long,"l1":"café €","a1":"ascii",
               "u16":"ü€𝄞","u32":"ü€𝄞","uc2":"ü€","u16le":"ü€𝄞","u3":"ü€",
               // BINARY(8) X'0102' padded with zeros to 8 bytes
               "bn":"AQIAAAAAAAA=","vb":"AP8A","bl":"3q2+7w==","tb":"","e":"b,c","s":"x,z,w",
               "j":"{\"b\": 1, \"a\": [true, null, 1.5e300, \"s\\\"q\"]}",
               "g":{"wkb":"AQEAAAAAAAAAAADwPwAAAAAAAABA","srid":4326},
               "p":{"x":3.5,"y":-4.25,"wkb":"AQEAAAAAAAAAAAAMQAAAAAAAABHA","srid":null},
               "ls":{"wkb":"AQIAAAACAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAPA/AAAAAAAA8D8=","srid":null},
               "pg":{"wkb":"AQMAAAABAAAABAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAADwPwAAAAAAAAAAAAAAAAAA8D8AAAAAAADwPwAAAAAAAAAAAAAAAAAAAAA=","srid":null},
               "gc":{"wkb":"AQcAAAABAAAAAQEAAAAAAAAAAADwPwAAAAAAAPA/","srid":null},
               "el":"é","nt":""}),
        // An invalid ENUM value ('') is index 0, the empty string.
        json!({"id":2,"c":"","vc":"","tx":"","lt":"","l1":"","a1":"","u16":"","u32":"","uc2":"",
               "u16le":"","u3":"","bn":"AAAAAAAAAAA=","vb":"","bl":"","tb":null,"e":"","s":"",
               "j":null,"g":null,"p":null,"ls":null,"pg":null,"gc":null,"el":"ü","nt":"x"}),
        json!({"id":3,"c":null,"vc":"n","tx":null,"lt":null,"l1":null,"a1":null,"u16":null,
               "u32":null,"uc2":null,"u16le":null,"u3":null,"bn":null,"vb":null,"bl":null,
               "tb":null,"e":null,"s":null,"j":null,"g":null,"p":null,"ls":null,"pg":null,
               "gc":null,"el":null,"nt":"y"}),
        json!({"id":4,"c":"x","vc":"four","tx":"t","lt":"l","l1":"x","a1":"x","u16":"x",
               "u32":"x","uc2":"x","u16le":"x","u3":"x","bn":"AQIDBAUGBwg=","vb":"","bl":"",
               "tb":"AQ==","e":"x\\y","s":"","j":"[]","g":null,"p":null,"ls":null,"pg":null,
               "gc":null,"el":"é","nt":"z"}),
    ];
    assert_rows(&rows(&d, "t_str"), &expected);
    assert_rows(
        &rows(&d, "t_maria"),
        &[json!({"id":1,"u":"Ej5FZ+ibEtOkVkJmVUQAAA==","i6":"AAAAAAAAAAAAAAAAAAAAAQ==",
                 "i4":"CgAAAQ==","jj":"{\"a\": 1}"})],
    );

    let d = decode(&TypeOptions { binary: BinaryMode::Hex, ..TypeOptions::default() });
    let r = rows(&d, "t_str");
    assert_eq!(r[0]["bn"], json!("0102000000000000"));
    assert_eq!(r[0]["bl"], json!("deadbeef"));
    assert_eq!(r[1]["vb"], json!(""));
    let d = decode(&TypeOptions { binary: BinaryMode::Base64UrlSafe, ..TypeOptions::default() });
    assert_eq!(rows(&d, "t_str")[0]["vb"], json!("AP8A"));
    assert_eq!(rows(&d, "t_str")[0]["bl"], json!("3q2-7w=="));
}

#[test]
fn temporals_with_default_options() {
    let d = decode(&TypeOptions::default());
    let expected = [
        // DATETIME '2018-06-20 06:37:03' is 1529476623000 (Debezium's docs).
        json!({"id":1,"d":17702,"dt":1529476623000i64,"dt1":1529476623500i64,
               "dt3":1529476623123i64,"dt6":1529476623123456i64,"ts":"2018-06-20T13:37:03Z",
               "ts1":"2018-06-20T13:37:03.1Z","ts3":"2018-06-20T13:37:03.120Z",
               "ts6":"2018-06-20T13:37:03.000001Z","t":45296000000i64,"t1":45296700000i64,
               "t2":45296780000i64,"t3":45296789000i64,"t4":45296789100i64,"t6":45296789123i64,
               "dnn":17702,"dtnn":1529476623000i64,"tsnn":"2018-06-20T13:37:03Z"}),
        // Zero dates are null, or the epoch in NOT NULL columns; negative TIMEs.
        json!({"id":2,"d":null,"dt":null,"dt1":null,"dt3":null,"dt6":null,"ts":null,"ts1":null,
               "ts3":null,"ts6":null,"t":-3020399000000i64,"t1":-1000000,"t2":-3600000000i64,
               "t3":-3723004000i64,"t4":-3020399999900i64,"t6":-1,"dnn":0,"dtnn":0,
               "tsnn":"1970-01-01T00:00:00Z"}),
        // Before 1970 milliseconds round down; TIME over 24 hours; the
        // two-digit years 0069 and 0070 are 2069 and 1970.
        json!({"id":3,"d":-354285,"dt":253402300799000i64,"dt1":-100,"dt3":-1,"dt6":-1,
               "ts":"1970-01-01T00:00:01Z","ts1":"2038-01-19T03:14:07.9Z",
               "ts3":"2038-01-19T03:14:07.999Z","ts6":"2038-01-19T03:14:07.999999Z",
               "t":3020399000000i64,"t1":86400500000i64,"t2":360000000000i64,"t3":0,"t4":-100,
               "t6":3020399000000i64,"dnn":36524,"dtnn":0,"tsnn":"1970-01-01T00:00:01Z"}),
        // '2020-00-15' and '2020-02-00 10:00:00' have a zero part: null,
        // hence the epoch in these NOT NULL columns.
        json!({"id":4,"d":null,"dt":null,"dt1":null,"dt3":null,"dt6":null,"ts":null,"ts1":null,
               "ts3":null,"ts6":null,"t":null,"t1":null,"t2":null,"t3":null,"t4":null,"t6":null,
               "dnn":0,"dtnn":0,"tsnn":"2000-01-01T00:00:00Z"}),
    ];
    assert_rows(&rows(&d, "t_time"), &expected);
}

#[test]
fn temporals_in_connect_and_iso_modes() {
    let opts = TypeOptions { time_precision: TimePrecisionMode::Connect, ..TypeOptions::default() };
    let cols = {
        let d = decode(&TypeOptions::default());
        table(&d, "t_time").clone()
    };
    let bytes = binlog();
    let file = BinlogFile::new(BinlogVersion::Version4, &bytes[..]).unwrap();
    let mut tme = None;
    let mut results = Vec::new();
    for ev in file {
        let ev = ev.unwrap();
        match ev.read_data().unwrap() {
            Some(EventData::TableMapEvent(t)) if t.table_name() == "t_time" => {
                tme = Some(t.into_owned())
            }
            Some(EventData::RowsEvent(re))
                if tme.as_ref().map(|t| t.table_id()) == Some(re.table_id()) =>
            {
                for r in re.rows(tme.as_ref().unwrap()) {
                    let row = r.unwrap().1.unwrap();
                    let conv = |name: &str, opts: &TypeOptions| {
                        let i = cols.columns.iter().position(|c| c.name == name).unwrap();
                        let c = &cols.columns[i];
                        column_schema(&c.column_type, c.nullable, opts)
                            .convert(row.as_ref(i).unwrap())
                            .map(|v| value_json(&v))
                    };
                    let iso = TypeOptions {
                        time_precision: TimePrecisionMode::IsoString,
                        ..TypeOptions::default()
                    };
                    let nanos = TypeOptions {
                        time_precision: TimePrecisionMode::Nanoseconds,
                        ..TypeOptions::default()
                    };
                    results.push([
                        conv("d", &opts),
                        conv("dt6", &opts),
                        conv("t", &opts),
                        conv("t1", &opts),
                        conv("d", &iso),
                        conv("dt6", &iso),
                        conv("t6", &iso),
                        conv("dt", &nanos),
                        conv("t", &nanos),
                    ]);
                }
            }
            _ => {}
        }
    }
    let ok = |j: Json| Ok::<Json, TypeError>(j);
    assert_eq!(results[0][0], ok(json!(17702)));
    assert_eq!(results[0][1], ok(json!(1529476623123i64)));
    assert_eq!(results[0][2], ok(json!(45296000)));
    assert_eq!(results[0][3], ok(json!(45296700)));
    assert_eq!(results[0][4], ok(json!("2018-06-20Z")));
    assert_eq!(results[0][5], ok(json!("2018-06-20T06:37:03.123456Z")));
    assert_eq!(results[0][6], ok(json!("12:34:56.789123Z")));
    assert_eq!(results[0][7], ok(json!(1529476623000000000i64)));
    assert_eq!(results[0][8], ok(json!(45296000000000i64)));
    // Negative and over-24h TIMEs cannot be Connect times.
    assert!(matches!(results[1][2], Err(TypeError::Unrepresentable { .. })));
    assert!(matches!(results[2][3], Err(TypeError::Unrepresentable { .. })));
    // 9999-12-31 is beyond int64 nanoseconds.
    assert!(matches!(results[2][7], Err(TypeError::Unrepresentable { .. })));
    assert_eq!(results[2][4], ok(json!("1000-01-01Z")));
    assert_eq!(results[2][5], ok(json!("1969-12-31T23:59:59.999999Z")));
    // TIME 838:59:59 is not an ISO time of day.
    assert!(matches!(results[2][6], Err(TypeError::Unrepresentable { .. })));
}
