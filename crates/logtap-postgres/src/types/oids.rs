//! OIDs of PostgreSQL's built-in types (stable since they are fixed in
//! `pg_type.dat`), and the table the registry is seeded with.

pub const BOOL: u32 = 16;
pub const BYTEA: u32 = 17;
pub const CHAR: u32 = 18;
pub const NAME: u32 = 19;
pub const INT8: u32 = 20;
pub const INT2: u32 = 21;
pub const INT4: u32 = 23;
pub const TEXT: u32 = 25;
pub const OID: u32 = 26;
pub const JSON: u32 = 114;
pub const XML: u32 = 142;
pub const POINT: u32 = 600;
pub const BOX: u32 = 603;
pub const CIDR: u32 = 650;
pub const FLOAT4: u32 = 700;
pub const FLOAT8: u32 = 701;
pub const MACADDR8: u32 = 774;
pub const MONEY: u32 = 790;
pub const MACADDR: u32 = 829;
pub const INET: u32 = 869;
pub const BPCHAR: u32 = 1042;
pub const VARCHAR: u32 = 1043;
pub const DATE: u32 = 1082;
pub const TIME: u32 = 1083;
pub const TIMESTAMP: u32 = 1114;
pub const TIMESTAMPTZ: u32 = 1184;
pub const INTERVAL: u32 = 1186;
pub const TIMETZ: u32 = 1266;
pub const BIT: u32 = 1560;
pub const VARBIT: u32 = 1562;
pub const NUMERIC: u32 = 1700;
pub const UUID: u32 = 2950;
pub const TSVECTOR: u32 = 3614;
pub const JSONB: u32 = 3802;
pub const INT4RANGE: u32 = 3904;
pub const NUMRANGE: u32 = 3906;
pub const TSRANGE: u32 = 3908;
pub const TSTZRANGE: u32 = 3910;
pub const DATERANGE: u32 = 3912;
pub const INT8RANGE: u32 = 3926;

/// `(oid, name, array oid)` of every built-in scalar type of PostgreSQL 15
/// that a table column can have (pseudo-types and internal-only types left
/// out). Types without a Debezium mapping are listed too, so that their
/// arrays are known and `TypeRegistry::get` does not send the caller to the
/// catalog for them; they convert through the text fallback.
pub const BUILTINS: &[(u32, &str, u32)] = &[
    (BOOL, "bool", 1000),
    (BYTEA, "bytea", 1001),
    (CHAR, "char", 1002),
    (NAME, "name", 1003),
    (INT8, "int8", 1016),
    (INT2, "int2", 1005),
    (22, "int2vector", 1006),
    (INT4, "int4", 1007),
    (24, "regproc", 1008),
    (TEXT, "text", 1009),
    (OID, "oid", 1028),
    (27, "tid", 1010),
    (28, "xid", 1011),
    (29, "cid", 1012),
    (30, "oidvector", 1013),
    (JSON, "json", 199),
    (XML, "xml", 143),
    (POINT, "point", 1017),
    (601, "lseg", 1018),
    (602, "path", 1019),
    (BOX, "box", 1020),
    (604, "polygon", 1027),
    (628, "line", 629),
    (CIDR, "cidr", 651),
    (FLOAT4, "float4", 1021),
    (FLOAT8, "float8", 1022),
    (718, "circle", 719),
    (MACADDR8, "macaddr8", 775),
    (MONEY, "money", 791),
    (MACADDR, "macaddr", 1040),
    (INET, "inet", 1041),
    (1033, "aclitem", 1034),
    (BPCHAR, "bpchar", 1014),
    (VARCHAR, "varchar", 1015),
    (DATE, "date", 1182),
    (TIME, "time", 1183),
    (TIMESTAMP, "timestamp", 1115),
    (TIMESTAMPTZ, "timestamptz", 1185),
    (INTERVAL, "interval", 1187),
    (TIMETZ, "timetz", 1270),
    (BIT, "bit", 1561),
    (VARBIT, "varbit", 1563),
    (NUMERIC, "numeric", 1231),
    (1790, "refcursor", 2201),
    (2202, "regprocedure", 2207),
    (2203, "regoper", 2208),
    (2204, "regoperator", 2209),
    (2205, "regclass", 2210),
    (2206, "regtype", 2211),
    (UUID, "uuid", 2951),
    (2970, "txid_snapshot", 2949),
    (3220, "pg_lsn", 3221),
    (TSVECTOR, "tsvector", 3643),
    (3615, "tsquery", 3645),
    (3642, "gtsvector", 3644),
    (3734, "regconfig", 3735),
    (3769, "regdictionary", 3770),
    (JSONB, "jsonb", 3807),
    (INT4RANGE, "int4range", 3905),
    (NUMRANGE, "numrange", 3907),
    (TSRANGE, "tsrange", 3909),
    (TSTZRANGE, "tstzrange", 3911),
    (DATERANGE, "daterange", 3913),
    (INT8RANGE, "int8range", 3927),
    (4072, "jsonpath", 4073),
    (4089, "regnamespace", 4090),
    (4096, "regrole", 4097),
    (4191, "regcollation", 4192),
    (4451, "int4multirange", 6150),
    (4532, "nummultirange", 6151),
    (4533, "tsmultirange", 6152),
    (4534, "tstzmultirange", 6153),
    (4535, "datemultirange", 6155),
    (4536, "int8multirange", 6157),
    (5038, "pg_snapshot", 5039),
    (5069, "xid8", 271),
];

/// Array types whose elements Debezium declares optional (the array OIDs its
/// `PostgresValueConverter.schemaBuilder` lists explicitly, plus `bit[]`,
/// which Debezium mis-declares as a scalar and logtap maps as an array).
/// Arrays of any other element type get required element schemas, as
/// Debezium's generic array branch builds them.
pub fn array_has_optional_elements(element_oid: u32) -> bool {
    matches!(
        element_oid,
        INT2 | INT4
            | INT8
            | OID
            | CHAR
            | VARCHAR
            | TEXT
            | BPCHAR
            | INET
            | CIDR
            | MACADDR
            | MACADDR8
            | TSRANGE
            | TSTZRANGE
            | DATERANGE
            | INT4RANGE
            | NUMRANGE
            | INT8RANGE
            | NUMERIC
            | FLOAT4
            | FLOAT8
            | BOOL
            | DATE
            | UUID
            | JSONB
            | JSON
            | TIME
            | TIMETZ
            | TIMESTAMP
            | TIMESTAMPTZ
            | BYTEA
            | BIT
    )
}

/// Array types for which Debezium builds no schema at all (so it drops the
/// column); logtap sends their text form through the fallback instead.
pub fn array_unsupported_by_debezium(element_oid: u32) -> bool {
    matches!(element_oid, MONEY | NAME | INTERVAL | VARBIT | XML | POINT | 1790)
}
