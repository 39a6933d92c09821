//! Malformed inputs, table-driven: each yields an error naming file, line and field, or a
//! counted skip/rejection. Never a panic, never silent loss.

use std::io::Write;
use std::path::Path;

use flate2::write::GzEncoder;
use flate2::Compression;
use volfit::market::{
    build, read_path, CleanConfig, Cleaned, Error, FileReport, Mapping, ReadOptions, Rejection,
    TimeUnit,
};

const SVCJ_HEADER: &str = "timestamp,instrument_name,underlying,underlying_name,option_type,strike,expiry_datetime,time_to_maturity,bid_price,ask_price,mark_price,mid_price,futures_price,futures_instrument_name,implied_volatility,delta,vega,open_interest,volume,bid_ask_spread,currency,index_price,volume_usd";
/// First data row of the real svcj file 20260105T041127Z (abridged decimals).
const SVCJ_CALL: &str = "2026-01-05T04:11:27.551698+00:00,BTC-16JAN26-82000-C,92962.85,BTC-16JAN26,call,82000.0,2026-01-16T08:00:00+00:00,0.0305,0.1185,0.127,0.12101857,0.12275,92962.85,BTC-16JAN26,0.5124,0.9258,22.82111,2.3,0.0,0.0085,BTC,92791.88,0.0";
const SVCJ_PUT: &str = "2026-01-05T04:11:27.551698+00:00,BTC-16JAN26-100000-P,92962.85,BTC-16JAN26,put,100000.0,2026-01-16T08:00:00+00:00,0.0305,0.08,0.085,0.0825,0.0825,92962.85,BTC-16JAN26,0.45,-0.9,20.0,1.0,0.0,0.005,BTC,92791.88,0.0";

const TARDIS_HEADER: &str = "exchange,symbol,timestamp,local_timestamp,type,strike_price,expiration,open_interest,last_price,bid_price,bid_amount,bid_iv,ask_price,ask_amount,ask_iv,mark_price,mark_iv,underlying_index,underlying_price,delta,gamma,vega,theta,rho";
const TARDIS_ROW: &str = "deribit,BTC-16JAN26-82000-C,1767586287000000,1767586287001000,call,82000,1768550400000000,2.3,0.12,0.1185,1.0,50.1,0.127,1.0,52.0,0.121,51.24,BTC-16JAN26,92962.85,0.9,0,22.8,-50,1";

const DX_HEADER: &str = "[QUOTE_UNIXTIME], [QUOTE_READTIME], [QUOTE_DATE], [QUOTE_TIME_HOURS], [INSTRUMENT_NAME], [BASE_CURRENCY], [CONTRACT_SIZE], [UNDERLYING_INDEX], [UNDERLYING_PRICE], [EXPIRY_DATE], [EXPIRY_UNIX], [EXPIRY_TIME], [DTE], [OPTION_RIGHT], [STRIKE], [BID_SIZE], [BID_PRICE], [ASK_PRICE], [ASK_SIZE], [OPEN_INTEREST], [VOLUME], [DELTA], [GAMMA], [VEGA], [THETA], [RHO], [MARK_IV], [STRIKE_DISTANCE_PCT]";
/// Second data row of the real OptionsDX file (bid 0 = no bid).
const DX_ROW: &str = "1622520046, 2021-06-01 00:00, 2021-06-01, 0.000000, BTC-1JUN21-30000-P, BTC, 1.000000, SYN.BTC-1JUN21, 36662.880000, 2021-06-01, 1622534400, 4.000000, 0.166130, put, 30000.000000, 0.000000, 0.000000, 0.000500, 43.000000, 26.800000, 30.500000, 0.000000, 0.000000, 0.000000, 0.000000, 0.000000, 149.580000, 0.181690";

const PERP_HEADER: &str =
    "snapshot_file,snapshot_timestamp_ms,obs_datetime,coin,instrument_name,perp_futures_mark_price";
const PERP_ROW: &str = "deribit_options_snapshot_20260105T041127Z.csv.gz,1767586287551,2026-01-05T04:11:27Z,BTC,BTC-PERPETUAL,92950.5";

const MAP: &str = "time=Time,instrument=Name,bid=Bid,ask=Ask,mark_iv=IV,forward=F";
const MAP_HEADER: &str = "Time,Name,Bid,Ask,IV,F";
/// The svcj call above, time in epoch seconds.
const MAP_ROW: &str = "1767586287,BTC-16JAN26-82000-C,0.1185,0.127,51.24,92962.85";
const MAP_DUP_HEADER: &str = "Time,Name,Bid,Ask,F,Size,Size";
const MAP_DUP_ROW: &str = "1767586287,BTC-16JAN26-82000-C,0.1185,0.127,92962.85,1.5,2.5";

/// The layout of a Deribit website options-chain export (see `tests/data/deribit_web_export.csv`).
const WEB_HEADER: &str = "Instrument,Open,Size,Bid,IV Bid,Mark,IV Ask,Ask,Size,Last,Delta";
const WEB_CALL: &str = "BTC-27SEP24-65000-C,40.5,1.5,0.1182,54.0,0.1206,56.0,0.1230,2.0,0.1206,0.5";
const WEB_PUT: &str = "BTC-27SEP24-65000-P,40.5,1.5,0.1182,54.0,0.1206,56.0,0.1230,2.0,-,-0.5";
const WEB_PUT_NO_BID: &str = "BTC-27SEP24-60000-P,12.0,-,-,-,0.0859,56.0,0.0880,2.0,-,-0.5";

fn web_time() -> ReadOptions {
    // 2024-04-08T14:27:00Z = 1_712_586_420 s (date -u -d 2024-04-08T14:27:00Z +%s).
    ReadOptions { snapshot_time_ms: Some(1_712_586_420_000), ..ReadOptions::default() }
}

fn mapped(
    name: &'static str,
    lines: &[&str],
    spec: &str,
    unit: Option<TimeUnit>,
    expect: Expect,
) -> Case {
    let mut m = Mapping::parse(spec).expect("valid map");
    m.time_unit = unit.unwrap_or_default();
    Case {
        name,
        data: csv(lines),
        opts: ReadOptions { mapping: Some(m), ..ReadOptions::default() },
        expect,
    }
}

/// `n` zero bytes (no newline), gzipped as a stream: ~1000:1.
fn gz_zeros(n: usize) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    let block = vec![0u8; 1 << 20];
    for _ in 0..n / block.len() {
        e.write_all(&block).expect("in-memory gzip");
    }
    e.finish().expect("in-memory gzip")
}

/// A gzip of many distinct rows with a few bytes flipped in the middle: the damaged deflate
/// stream decodes to garbage for a while before it fails, so the CSV structure breaks first.
fn damaged_gzip() -> Vec<u8> {
    let mut text = vec![SVCJ_HEADER.to_string()];
    for i in 0..20_000 {
        text.push(set(
            &set(SVCJ_CALL, 5, &format!("{}", 50_000 + i)),
            1,
            &format!("BTC-16JAN26-{}-C", 50_000 + i),
        ));
    }
    let refs: Vec<&str> = text.iter().map(String::as_str).collect();
    let mut g = gz(&csv(&refs));
    let mid = g.len() / 2;
    for b in &mut g[mid..mid + 8] {
        *b ^= 0x5a;
    }
    g
}

/// Replaces field `i` (0-based) of a CSV row.
fn set(row: &str, i: usize, v: &str) -> String {
    let mut f: Vec<&str> = row.split(',').collect();
    f[i] = v;
    f.join(",")
}

fn csv(lines: &[&str]) -> Vec<u8> {
    let mut s = lines.join("\n");
    s.push('\n');
    s.into_bytes()
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).expect("in-memory gzip");
    e.finish().expect("in-memory gzip")
}

/// What a case must produce.
enum Expect {
    /// An error whose message contains every fragment (the file name is always checked).
    Err(&'static [&'static str]),
    /// A counted skip while reading, with a message naming these fragments.
    Skip(Rejection, &'static [&'static str]),
    /// A counted rejection while cleaning.
    Rejected(Rejection, u64),
    /// Reads fine: this many kept quotes.
    Quotes(usize),
}

struct Case {
    name: &'static str,
    data: Vec<u8>,
    opts: ReadOptions,
    expect: Expect,
}

fn case(name: &'static str, data: Vec<u8>, expect: Expect) -> Case {
    Case { name, data, opts: ReadOptions::default(), expect }
}

fn run(path: &Path, opts: &ReadOptions) -> Result<(FileReport, Vec<Cleaned>), Error> {
    let mut out = Vec::new();
    let rep = read_path(path, opts, &mut |raw| {
        out.push(build(raw, &CleanConfig::default()));
        Ok(())
    })?;
    Ok((rep, out))
}

fn cases() -> Vec<Case> {
    let long_name = format!("BTC-16JAN26-{}-C", "9".repeat(10 << 20));
    let long_row = set(SVCJ_CALL, 1, &long_name);
    let full = gz(&csv(&[SVCJ_HEADER, SVCJ_CALL, SVCJ_PUT]));
    let truncated = full[..full.len() - 12].to_vec();
    let missing_bid: String = SVCJ_HEADER.replace(",bid_price", ",bidprice");
    let semicolon = csv(&[&SVCJ_HEADER.replace(',', ";"), &SVCJ_CALL.replace(',', ";")]);
    let mut bom = b"\xef\xbb\xbf".to_vec();
    bom.extend(csv(&[SVCJ_HEADER, SVCJ_CALL]));
    let mut bad_utf8 = csv(&[SVCJ_HEADER]);
    bad_utf8.extend(set(SVCJ_CALL, 20, "B\u{1}TC").replace('\u{1}', "\u{fffd}").as_bytes());
    let pos = bad_utf8.len() - 90;
    bad_utf8[pos] = 0xff;
    let strict = ReadOptions { strict: true, ..ReadOptions::default() };
    vec![
        case("empty.csv", Vec::new(), Expect::Err(&["line 1", "empty file"])),
        case("blank.csv.gz", gz(b"\n\n"), Expect::Err(&["empty file"])),
        case("header_only.csv", csv(&[SVCJ_HEADER]), Expect::Quotes(0)),
        case("truncated.csv.gz", truncated, Expect::Err(&["corrupt or truncated gzip"])),
        case("garbage.csv.gz", {
            let mut g = full.clone();
            for b in g.iter_mut().skip(20).take(40) {
                *b ^= 0x5a;
            }
            g
        }, Expect::Err(&["gzip"])),
        case("missing_col.csv", csv(&[&missing_bid, SVCJ_CALL]), Expect::Err(&["line 1", "\"bid_price\"", "deribit-summary"])),
        case("semicolons.csv", semicolon, Expect::Err(&["line 1", "wrong delimiter"])),
        case("bom.csv", bom, Expect::Quotes(1)),
        case("unknown_header.csv", csv(&["a,b,c", "1,2,3"]), Expect::Err(&["line 1", "unrecognised header"])),
        case("short_row.csv", csv(&[SVCJ_HEADER, SVCJ_CALL, "2026-01-05T04:11:27Z,BTC-16JAN26-82000-C"]), Expect::Err(&["line 3", "expected 23 fields, found 2"])),
        case("strike_text.csv", csv(&[SVCJ_HEADER, &set(SVCJ_CALL, 5, "abc"), SVCJ_PUT]), Expect::Skip(Rejection::InvalidField, &["line 2", "\"strike\"", "\"abc\""])),
        case("strike_negative.csv", csv(&[SVCJ_HEADER, &set(SVCJ_CALL, 5, "-82000")]), Expect::Skip(Rejection::InvalidField, &["line 2", "\"strike\"", "out of range"])),
        case("price_negative.csv", csv(&[SVCJ_HEADER, SVCJ_PUT, &set(SVCJ_CALL, 8, "-0.1")]), Expect::Skip(Rejection::InvalidField, &["line 3", "\"bid_price\""])),
        case("price_nan.csv", csv(&[SVCJ_HEADER, &set(SVCJ_CALL, 9, "NaN")]), Expect::Skip(Rejection::NonFinite, &["line 2", "\"ask_price\"", "non-finite"])),
        case("price_inf.csv", csv(&[SVCJ_HEADER, &set(SVCJ_CALL, 2, "inf")]), Expect::Skip(Rejection::NonFinite, &["line 2", "\"underlying\""])),
        case("time_bad.csv", csv(&[SVCJ_HEADER, &set(SVCJ_CALL, 0, "05/01/2026")]), Expect::Skip(Rejection::InvalidField, &["line 2", "\"timestamp\""])),
        case("expiry_past.csv", csv(&[SVCJ_HEADER, &set(SVCJ_CALL, 6, "2025-12-26T08:00:00+00:00")]), Expect::Rejected(Rejection::Expired, 1)),
        case("name_unknown.csv", csv(&[SVCJ_HEADER, &set(SVCJ_CALL, 1, "BTC-PERPETUAL")]), Expect::Skip(Rejection::UnparsableInstrument, &["line 2", "\"instrument_name\"", "BTC-PERPETUAL"])),
        case("name_vs_strike.csv", csv(&[SVCJ_HEADER, &set(SVCJ_CALL, 5, "83000")]), Expect::Skip(Rejection::InvalidField, &["line 2", "\"instrument_name\"", "inconsistent"])),
        case("mixed_underlying.csv", csv(&[SVCJ_HEADER, SVCJ_PUT, &set(SVCJ_CALL, 20, "ETH")]), Expect::Skip(Rejection::InvalidField, &["line 3", "underlying ETH vs name"])),
        case("duplicate.csv", csv(&[SVCJ_HEADER, SVCJ_CALL, SVCJ_PUT, SVCJ_CALL]), Expect::Rejected(Rejection::Duplicate, 1)),
        case("crossed.csv", csv(&[SVCJ_HEADER, &set(&set(SVCJ_CALL, 8, "0.2"), 9, "0.1")]), Expect::Rejected(Rejection::Crossed, 1)),
        case("no_quote.csv", csv(&[SVCJ_HEADER, &set(&set(SVCJ_CALL, 8, ""), 9, "")]), Expect::Rejected(Rejection::NoQuote, 1)),
        case("below_intrinsic.csv", csv(&[SVCJ_HEADER, &set(&set(SVCJ_CALL, 8, "0.01"), 9, "0.02")]), Expect::Rejected(Rejection::BelowIntrinsic, 1)),
        case("zero_bid.csv", csv(&[SVCJ_HEADER, &set(SVCJ_CALL, 8, "0")]), Expect::Quotes(1)),
        case("line_10mb.csv", csv(&[SVCJ_HEADER, SVCJ_PUT, &long_row]), Expect::Err(&["line 3", "longer than the limit of 1048576 bytes", "--max-line-bytes"])),
        // A 64 MB header line in a ~64 KB gzip (the issue's 300 MB case, smaller): fails after
        // the limit, without holding the line.
        case("endless_header.csv.gz", gz_zeros(64 << 20), Expect::Err(&["line 1", "longer than the limit"])),
        // An unclosed quote: newlines inside quotes do not end the CSV record.
        case("open_quote.csv", [csv(&[SVCJ_HEADER]), b"\"".to_vec(), b"x\n".repeat(600_000)].concat(), Expect::Err(&["line 2", "longer than the limit"])),
        Case { name: "small_cap.csv", data: csv(&[SVCJ_HEADER, SVCJ_CALL]), opts: ReadOptions { max_line_bytes: 100, ..ReadOptions::default() }, expect: Expect::Err(&["line 1", "limit of 100 bytes"]) },
        case("json_long_line.json", format!("{{\"result\":[{}]}}", "{\"instrument_name\":\"BTC-16JAN26-82000-C\"},".repeat(40_000)).into_bytes(), Expect::Err(&["line 1", "longer than the limit"])),
        case("perpetual_futures_prices.csv", csv(&[PERP_HEADER, PERP_ROW]), Expect::Err(&["perpetual futures prices, not option quotes", "--perp"])),
        case("gzip_damaged_mid.csv.gz", damaged_gzip(), Expect::Err(&["corrupt or truncated gzip", "after line"])),
        case("json_no_time.json", br#"{"result":[{"instrument_name":"BTC-16JAN26-82000-C","bid_price":0.1,"ask_price":0.11}]}"#.to_vec(), Expect::Err(&["response 1 has no snapshot time", "--snapshot-time"])),
        Case { name: "json_time_given.json", data: br#"{"result":[{"instrument_name":"BTC-16JAN26-82000-C","bid_price":0.1185,"ask_price":0.127,"underlying_price":92962.85}]}"#.to_vec(), opts: ReadOptions { snapshot_time_ms: Some(1_767_586_287_000), ..ReadOptions::default() }, expect: Expect::Quotes(1) },
        case("json_not_summary.json", br#"{"foo": 1}"#.to_vec(), Expect::Err(&["JSON value 1 is not a Deribit book summary", "--map"])),
        // Epoch seconds read as the default milliseconds: 1970, not a 56-year option.
        mapped("map_seconds_as_ms.csv", &[MAP_HEADER, MAP_ROW], MAP, None, Expect::Err(&["line 2", "\"Time\"", "1970-01-21", "--time-unit s"])),
        mapped("map_microseconds_as_ms.csv", &[MAP_HEADER, &MAP_ROW.replacen("1767586287", "1767586287000000", 1)], MAP, None, Expect::Err(&["line 2", "after 2100", "--time-unit us"])),
        mapped("map_expiry_decades.csv", &["Time,Name,Bid,Ask,F,Exp", "2026-01-05T04:11:27Z,BTC-16JAN26-82000-C,0.1185,0.127,92962.85,2070-01-16"], "time=Time,instrument=Name,bid=Bid,ask=Ask,forward=F,expiry=Exp", None, Expect::Err(&["line 2", "\"Exp\"", "44 years after the snapshot time"])),
        mapped("map_seconds_ok.csv", &[MAP_HEADER, MAP_ROW], MAP, Some(TimeUnit::S), Expect::Quotes(1)),
        mapped("map_duplicate_name.csv", &[MAP_DUP_HEADER, MAP_DUP_ROW], "time=Time,instrument=Name,bid=Bid,ask=Ask,forward=F,ask_size=Size", Some(TimeUnit::S), Expect::Err(&["line 1", "2 columns named \"Size\" (#6, #7)", "ask_size=#7"])),
        mapped("map_by_position.csv", &[MAP_DUP_HEADER, MAP_DUP_ROW], "time=Time,instrument=Name,bid=Bid,ask=Ask,forward=F,bid_size=#6,ask_size=#7", Some(TimeUnit::S), Expect::Quotes(1)),
        mapped("map_position_out.csv", &[MAP_DUP_HEADER, MAP_DUP_ROW], "time=Time,instrument=Name,bid=Bid,ask=Ask,ask_size=#8", Some(TimeUnit::S), Expect::Err(&["line 1", "ask_size=#8", "7 columns"])),
        case("web_no_time.csv", csv(&[WEB_HEADER, WEB_CALL]), Expect::Err(&["no time column", "--snapshot-time 2024-04-08T14:27:00Z"])),
        // The 65000 pair gives the parity forward; the 60000 put without a bid is kept one-sided.
        Case { name: "web_dash_sides.csv", data: csv(&[WEB_HEADER, WEB_CALL, WEB_PUT, WEB_PUT_NO_BID]), opts: web_time(), expect: Expect::Quotes(3) },
        case("bad_utf8.csv", bad_utf8, Expect::Skip(Rejection::InvalidField, &["line 2"])),
        case("tardis_ts_text.csv", csv(&[TARDIS_HEADER, &set(TARDIS_ROW, 3, "soon")]), Expect::Skip(Rejection::InvalidField, &["line 2", "\"local_timestamp\""])),
        // The fuzz finding: a jump of `local_timestamp` from 2026 to 2530 cost one hourly chain
        // per hour of the gap (4.4 M); now the file fails on the implausible time.
        case("tardis_year_2530.csv", csv(&[TARDIS_HEADER, &set(&set(TARDIS_ROW, 3, "1767585600000006"), 2, "1767585600000000"), &set(TARDIS_ROW, 3, "17675856000090009")]), Expect::Err(&["line 3", "\"local_timestamp\"", "2530-", "after 2100", "--time-unit"])),
        // Milliseconds where Tardis has µs: 1970, with the unit that fits.
        case("tardis_ms.csv", csv(&[TARDIS_HEADER, &set(TARDIS_ROW, 3, "1767586287001")]), Expect::Err(&["line 2", "\"local_timestamp\"", "before 2016", "read as ms it is 2026-01-05T04:11:27.001Z"])),
        case("dx_zero_sides.csv", csv(&[DX_HEADER, &DX_ROW.replace("0.000500, 43.000000", "0.000000, 43.000000")]), Expect::Rejected(Rejection::NoQuote, 1)),
        case("json_broken.json", b"{\"result\": [ {\"instrument_name\": \"BTC-16JAN26-82000-C\",\n \"bid_price\": 0.1,,}]}".to_vec(), Expect::Err(&["line 2", "malformed JSON"])),
        case("json_bad_name.json", br#"{"result":[{"instrument_name":"BTC-16JAN26-82000","bid_price":0.1,"ask_price":0.11,"creation_timestamp":1767586287000}],"usOut":1767586287551000}"#.to_vec(), Expect::Skip(Rejection::UnparsableInstrument, &["line 1", "result[1].instrument_name"])),
        Case { name: "strict_strike.csv", data: csv(&[SVCJ_HEADER, &set(SVCJ_CALL, 5, "abc")]), opts: strict, expect: Expect::Err(&["line 2", "field \"strike\"", "invalid value \"abc\""]) },
        Case {
            name: "map_unknown_column.csv",
            data: csv(&["Strike,Bid", "1,2"]),
            opts: ReadOptions { mapping: Some(Mapping { columns: vec![("strike".into(), "Strike".into()), ("bid".into(), "Bid".into()), ("ask".into(), "Ask".into())], ..Mapping::default() }), ..ReadOptions::default() },
            expect: Expect::Err(&["line 1", "\"ask\"", "mapped"]),
        },
    ]
}

#[test]
fn malformed_inputs_give_clear_errors_or_counted_skips() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cases = cases();
    assert!(cases.len() >= 20);
    for c in &cases {
        let path = dir.path().join(c.name);
        std::fs::write(&path, &c.data).expect("write case");
        let got = run(&path, &c.opts);
        match (&c.expect, got) {
            (Expect::Err(frags), Err(e)) => {
                let msg = format!("{e:#}");
                for leak in ["line 0", "JsonDoc", "market::", "usOut\""] {
                    assert!(!msg.contains(leak), "{}: {msg:?} leaks {leak:?}", c.name);
                }
                assert!(msg.contains(c.name), "{}: message lacks the file: {msg}", c.name);
                for f in *frags {
                    assert!(msg.contains(f), "{}: {msg:?} lacks {f:?}", c.name);
                }
            }
            (Expect::Skip(reason, frags), Ok((rep, _))) => {
                assert_eq!(
                    rep.skipped.get(*reason),
                    1,
                    "{}: {:?} {:?}",
                    c.name,
                    rep.skipped,
                    rep.examples
                );
                let msg = rep.examples.first().cloned().unwrap_or_default();
                assert!(msg.contains(c.name), "{}: {msg}", c.name);
                for f in *frags {
                    assert!(msg.contains(f), "{}: {msg:?} lacks {f:?}", c.name);
                }
            }
            (Expect::Rejected(reason, n), Ok((_, snaps))) => {
                let total: u64 = snaps.iter().map(|s| s.rejected.get(*reason)).sum();
                assert_eq!(
                    total,
                    *n,
                    "{}: {:?}",
                    c.name,
                    snaps.iter().map(|s| &s.rejected).collect::<Vec<_>>()
                );
            }
            (Expect::Quotes(n), Ok((rep, snaps))) => {
                let q: usize = snaps.iter().map(|s| s.snapshot.num_quotes()).sum();
                assert_eq!(q, *n, "{}: {:?}", c.name, rep);
            }
            (_, Err(e)) => panic!("{}: unexpected error {e:#}", c.name),
            (_, Ok((rep, snaps))) => {
                panic!("{}: expected an error, got {rep:?} {}", c.name, snaps.len())
            }
        }
    }
}

#[test]
fn every_row_is_accounted_for() {
    // Rows in = kept + rejected (cleaning) + skipped (reading), on a file mixing problems.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("mixed.csv");
    let rows = [
        SVCJ_HEADER.to_string(),
        SVCJ_CALL.to_string(),
        SVCJ_PUT.to_string(),
        set(SVCJ_CALL, 5, "x"),
        set(SVCJ_CALL, 1, "BTC-XX-1-C"),
        SVCJ_CALL.to_string(),
        set(&set(SVCJ_PUT, 8, ""), 9, ""),
    ];
    let refs: Vec<&str> = rows.iter().map(String::as_str).collect();
    std::fs::write(&path, csv(&refs)).expect("write");
    let (rep, snaps) = run(&path, &ReadOptions::default()).unwrap_or_else(|e| panic!("{e:#}"));
    let kept: usize = snaps.iter().map(|s| s.snapshot.num_quotes()).sum();
    let rejected: u64 = snaps.iter().map(|s| s.rejected.total()).sum();
    assert_eq!(rep.rows, 6);
    // Kept: the call and the put; rejected: the repeated call (duplicate) and the put
    // without quotes (no_quote); skipped: the bad strike and the bad name.
    assert_eq!((kept, rejected, rep.skipped.total()), (2, 2, 2));
    assert_eq!(kept as u64 + rejected + rep.skipped.total(), rep.rows);
}

#[test]
fn missing_file_names_the_path() {
    let e = run(Path::new("/nonexistent/chain.csv.gz"), &ReadOptions::default())
        .expect_err("no such file");
    assert!(e.is_io());
    assert!(e.to_string().contains("/nonexistent/chain.csv.gz"), "{e}");
}

#[test]
fn perpetual_prices_are_recognised_not_failed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("renamed_perps.csv.gz");
    std::fs::write(&path, gz(&csv(&[PERP_HEADER, PERP_ROW]))).expect("write");
    let e = run(&path, &ReadOptions::default()).expect_err("not options");
    assert!(e.is_not_options(), "{e}");
    // The hedge reader still takes it.
    let perps = volfit::market::read_perpetuals(&path).expect("perp prices");
    assert_eq!((perps.len(), perps[0].price), (1, 92950.5));
}

#[test]
fn deribit_web_export_forward_by_parity() {
    // The fixture: Black-76 prices at F = 65000 USD, t = 0.470497 y (2024-04-08T14:27Z to
    // 2024-09-27T08:00Z), σ from a smile, in coin rounded to 0.0001, ±2 % spreads; the
    // 50000 put and 80000 call have no bid (`-`).
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/deribit_web_export.csv");
    let (rep, snaps) = run(&path, &web_time()).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(rep.format, volfit::market::Format::DeribitWeb);
    assert_eq!((rep.rows, rep.skipped.total(), snaps.len()), (14, 0, 1));
    let s = &snaps[0].snapshot;
    assert_eq!(s.time_ms, 1_712_586_420_000);
    let e = &s.expiries[0];
    assert_eq!(e.forward_source, volfit::market::ForwardSource::Parity);
    // Rounding the coin prices to 0.0001 moves C − P by ≤ 2e-4 coin, F by ≤ ~13 USD.
    assert!((e.forward - 65_000.0).abs() < 15.0, "forward {}", e.forward);
    assert!((e.t - 0.470_496_575).abs() < 1e-6, "t {}", e.t);
    assert_eq!(s.num_quotes(), 14);
    let no_bid = e.quotes.iter().filter(|q| q.bid.is_none()).count();
    assert_eq!(no_bid, 2);
    // Ask size is the second `Size` column.
    assert!(e.quotes.iter().all(|q| q.ask_size == Some(2.0)));
}

/// Chains a Tardis stream yields, and the reader's report.
fn tardis_chains(name: &str, rows: &[String], opts: &ReadOptions) -> (FileReport, Vec<i64>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(name);
    let mut lines = vec![TARDIS_HEADER];
    lines.extend(rows.iter().map(String::as_str));
    std::fs::write(&path, csv(&lines)).expect("write");
    let mut times = Vec::new();
    let rep = read_path(&path, opts, &mut |raw| {
        times.push(raw.time_ms);
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    (rep, times)
}

#[test]
fn tardis_time_gap_costs_work_by_the_file_not_by_the_gap() {
    // Two updates 70 years apart, both in 2016–2100: hourly checkpoints in between hold only
    // a stale update, so they are skipped and counted, not emitted. Before the fix the reader
    // stepped through all 613,200 hours one by one and emitted 268 chains of one stale quote
    // (until the option expired; `volfit quotes` of the pre-fix binary on this file).
    let at =
        |ts_us: i64| set(&set(TARDIS_ROW, 2, &ts_us.to_string()), 3, &(ts_us + 1000).to_string());
    let t0 = 1_767_586_287_000_000; // 2026-01-05T04:11:27Z
    let t1 = t0 + 70 * 365 * 86_400_000_000; // 2095-12-16T04:11:27Z
    let (rep, times) = tardis_chains("gap.csv", &[at(t0), at(t1)], &ReadOptions::default());
    // The only non-stale checkpoint: 05:00, 49 min after the update, is stale too (10 min
    // max age), so nothing is emitted and every hour of the gap is counted.
    let hours = (t1 + 1000 - 1_767_589_200_000_000 - 1) / 3_600_000_000 + 1;
    assert_eq!((times.len(), rep.idle_checkpoints), (0, hours as u64), "{:?}", rep.examples);
    assert!(rep.examples.iter().any(|m| m.contains("checkpoints skipped")), "{:?}", rep.examples);
    // With updates every 5 min the hours are emitted as before, none skipped.
    let rows: Vec<String> = (0..30).map(|i| at(t0 + i * 300_000_000)).collect();
    let (rep, times) = tardis_chains("dense.csv", &rows, &ReadOptions::default());
    assert_eq!((times.len(), rep.idle_checkpoints), (2, 0));
    // An exchange time far ahead of its arrival does not keep the chain fresh.
    let skewed = set(&at(t0), 2, &(t1 + 10).to_string());
    let (rep, times) = tardis_chains("skew.csv", &[skewed, at(t1)], &ReadOptions::default());
    assert_eq!((times.len(), rep.idle_checkpoints), (0, hours as u64));
}
