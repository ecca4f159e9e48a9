//! `tributary bench codec`: encode and decode time and size per event for
//! every event type, Avro vs JSON. Pure CPU, no broker.
//!
//! - **apache-avro**: `write_avro_datum_ref`, and `from_avro_datum` into an
//!   Avro `Value` then `from_value` into the type (the runtime's path for
//!   bytes written with another schema version, which need resolution).
//! - **serde_avro_fast**: the runtime's `encode_body` / `decode_body` for its
//!   own schema: the same Avro binary straight to and from the serde types,
//!   no intermediate `Value`. Checked to write the very same bytes as
//!   apache-avro and to read them back to an equal event.
//! - **serde_json**: the event's serde derive as JSON.
//!
//! The six operations alternate in a rotating order within every round; the
//! report gives the median over rounds of the mean time per operation.

use std::{hint::black_box, time::Instant};

use serde::Serialize;
use tributary_contracts::{Event, FRAME_HEADER_LEN, decode_body, encode_body, events::AnyEvent};

use apache_avro::{from_avro_datum, from_value, write_avro_datum_ref};

use super::{
    BenchError, Table,
    fixtures::sample_events,
    report::thousands,
    stats::{median, ratio},
};

/// What to run.
#[derive(Debug, Clone)]
pub struct CodecOptions {
    /// Operations timed back to back per event type, operation and round.
    pub iterations: u64,
    pub rounds: usize,
}

/// Median nanoseconds per operation.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct EncDec {
    pub encode_ns: f64,
    pub decode_ns: f64,
}

impl EncDec {
    pub fn total_ns(&self) -> f64 {
        self.encode_ns + self.decode_ns
    }

    fn cell(&self) -> String {
        format!(
            "{} / {}",
            thousands(self.encode_ns),
            thousands(self.decode_ns)
        )
    }
}

/// One event type's figures.
#[derive(Debug, Clone, Serialize)]
pub struct CodecRow {
    pub event: &'static str,
    /// Avro body bytes (add 5 for the Confluent frame).
    pub avro_bytes: usize,
    pub json_bytes: usize,
    pub apache_avro: EncDec,
    /// `None` with the reason when serde_avro_fast could not handle the type
    /// or disagreed with apache-avro.
    pub serde_avro_fast: Option<EncDec>,
    pub serde_avro_fast_problem: Option<String>,
    pub serde_json: EncDec,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct CodecReport {
    pub iterations: u64,
    pub rounds: usize,
    pub frame_header_bytes: usize,
    pub rows: Vec<CodecRow>,
    /// Means over event types of encode+decode ns.
    pub mean_apache_avro_ns: f64,
    pub mean_serde_avro_fast_ns: Option<f64>,
    pub mean_serde_json_ns: f64,
}

impl CodecReport {
    pub fn table(&self) -> Table {
        let mut table = Table::new([
            "event",
            "Avro bytes",
            "JSON bytes",
            "apache-avro enc / dec ns",
            "serde_avro_fast enc / dec ns",
            "serde_json enc / dec ns",
            "apache-avro ÷ JSON",
            "fast ÷ apache-avro",
        ]);
        for r in &self.rows {
            let short = r.event.rsplit('.').next().unwrap_or(r.event);
            table.row([
                short.to_owned(),
                r.avro_bytes.to_string(),
                r.json_bytes.to_string(),
                r.apache_avro.cell(),
                r.serde_avro_fast
                    .map(|f| f.cell())
                    .or_else(|| r.serde_avro_fast_problem.clone())
                    .unwrap_or_default(),
                r.serde_json.cell(),
                format!(
                    "{:.2}×",
                    ratio(r.apache_avro.total_ns(), r.serde_json.total_ns())
                ),
                r.serde_avro_fast
                    .map(|f| format!("{:.2}×", ratio(f.total_ns(), r.apache_avro.total_ns())))
                    .unwrap_or_default(),
            ]);
        }
        table.row([
            "mean enc+dec ns".to_owned(),
            String::new(),
            String::new(),
            thousands(self.mean_apache_avro_ns),
            self.mean_serde_avro_fast_ns
                .map(thousands)
                .unwrap_or_default(),
            thousands(self.mean_serde_json_ns),
        ]);
        table
    }
}

pub fn run(options: &CodecOptions) -> Result<CodecReport, BenchError> {
    if options.rounds == 0 || options.iterations == 0 {
        return Err(BenchError::Argument {
            arg: "--rounds/--events",
            detail: "must be at least 1".to_owned(),
        });
    }
    let rows = sample_events()
        .iter()
        .map(|event| measure_any(event, options))
        .collect::<Result<Vec<_>, _>>()?;
    let mean = |f: &dyn Fn(&CodecRow) -> Option<f64>| -> Option<f64> {
        let values: Option<Vec<f64>> = rows.iter().map(f).collect();
        values.map(|v| v.iter().sum::<f64>() / v.len().max(1) as f64)
    };
    Ok(CodecReport {
        iterations: options.iterations,
        rounds: options.rounds,
        frame_header_bytes: FRAME_HEADER_LEN,
        mean_apache_avro_ns: mean(&|r| Some(r.apache_avro.total_ns())).unwrap_or(0.0),
        mean_serde_avro_fast_ns: mean(&|r| r.serde_avro_fast.map(|f| f.total_ns())),
        mean_serde_json_ns: mean(&|r| Some(r.serde_json.total_ns())).unwrap_or(0.0),
        rows,
    })
}

fn measure_any(event: &AnyEvent, options: &CodecOptions) -> Result<CodecRow, BenchError> {
    match event {
        AnyEvent::UserRegistered(e) => measure(e, options),
        AnyEvent::OrderPlaced(e) => measure(e, options),
        AnyEvent::OrderConfirmed(e) => measure(e, options),
        AnyEvent::OrderCancelled(e) => measure(e, options),
        AnyEvent::StockAdded(e) => measure(e, options),
        AnyEvent::StockReserved(e) => measure(e, options),
        AnyEvent::StockRejected(e) => measure(e, options),
        AnyEvent::StockReleased(e) => measure(e, options),
        AnyEvent::PaymentAuthorized(e) => measure(e, options),
        AnyEvent::PaymentDeclined(e) => measure(e, options),
        AnyEvent::PaymentRefunded(e) => measure(e, options),
        AnyEvent::NotificationSent(e) => measure(e, options),
    }
}

/// The six operations, timed in turn.
#[derive(Debug, Clone, Copy)]
enum Op {
    AvroEncode,
    AvroDecode,
    FastEncode,
    FastDecode,
    JsonEncode,
    JsonDecode,
}

const OPS: [Op; 6] = [
    Op::AvroEncode,
    Op::AvroDecode,
    Op::FastEncode,
    Op::FastDecode,
    Op::JsonEncode,
    Op::JsonDecode,
];

fn measure<E: Event>(event: &E, options: &CodecOptions) -> Result<CodecRow, BenchError> {
    let codec_err = |codec: &'static str| {
        move |e: &dyn std::fmt::Display| BenchError::Codec {
            codec,
            event: E::FULL_NAME,
            detail: e.to_string(),
        }
    };
    let avro = apache_encode(event).map_err(|e| codec_err("apache-avro")(&e))?;
    if apache_decode::<E>(&avro).map_err(|e| codec_err("apache-avro")(&e))? != *event {
        return Err(codec_err("apache-avro")(&"round trip changed the event"));
    }
    let json = serde_json::to_vec(event).map_err(|e| codec_err("serde_json")(&e))?;
    let back: E = serde_json::from_slice(&json).map_err(|e| codec_err("serde_json")(&e))?;
    if back != *event {
        return Err(codec_err("serde_json")(&"round trip changed the event"));
    }
    let fast = check_runtime_codec(event, &avro);

    let mut samples = [const { Vec::new() }; 6];
    for round in 0..options.rounds {
        for i in 0..OPS.len() {
            let k = (i + round) % OPS.len();
            let ns = match (OPS[k], &fast) {
                (Op::AvroEncode, _) => time(options.iterations, || {
                    black_box(apache_encode(black_box(event)).is_ok());
                }),
                (Op::AvroDecode, _) => time(options.iterations, || {
                    black_box(apache_decode::<E>(black_box(&avro)).is_ok());
                }),
                (Op::FastEncode, Ok(())) => time(options.iterations, || {
                    black_box(encode_body(black_box(event)).is_ok());
                }),
                (Op::FastDecode, Ok(())) => time(options.iterations, || {
                    black_box(decode_body::<E>(black_box(&avro), None).is_ok());
                }),
                (Op::FastEncode | Op::FastDecode, Err(_)) => continue,
                (Op::JsonEncode, _) => time(options.iterations, || {
                    black_box(serde_json::to_vec(black_box(event)).is_ok());
                }),
                (Op::JsonDecode, _) => time(options.iterations, || {
                    black_box(serde_json::from_slice::<E>(black_box(&json)).is_ok());
                }),
            };
            samples[k].push(ns);
        }
    }
    let m = |k: usize| median(&samples[k]).unwrap_or(0.0);
    let (serde_avro_fast, serde_avro_fast_problem) = match &fast {
        Ok(_) => (
            Some(EncDec {
                encode_ns: m(2),
                decode_ns: m(3),
            }),
            None,
        ),
        Err(problem) => (None, Some(problem.clone())),
    };
    Ok(CodecRow {
        event: E::FULL_NAME,
        avro_bytes: avro.len(),
        json_bytes: json.len(),
        apache_avro: EncDec {
            encode_ns: m(0),
            decode_ns: m(1),
        },
        serde_avro_fast,
        serde_avro_fast_problem,
        serde_json: EncDec {
            encode_ns: m(4),
            decode_ns: m(5),
        },
    })
}

/// Mean nanoseconds of `op` over `iterations` back-to-back calls.
fn time(iterations: u64, mut op: impl FnMut()) -> f64 {
    let started = Instant::now();
    for _ in 0..iterations {
        op();
    }
    started.elapsed().as_nanos() as f64 / iterations as f64
}

/// apache-avro encoding, a fresh buffer per event like `encode_body`.
fn apache_encode<E: Event>(event: &E) -> Result<Vec<u8>, apache_avro::Error> {
    let mut body = Vec::with_capacity(128);
    write_avro_datum_ref(E::schema(), event, &mut body)?;
    Ok(body)
}

/// apache-avro decoding through its `Value`.
fn apache_decode<E: Event>(body: &[u8]) -> Result<E, apache_avro::Error> {
    let mut reader = body;
    let value = from_avro_datum(E::schema(), &mut reader, None)?;
    from_value(&value)
}

/// Checks the runtime's codec (serde_avro_fast) agrees with apache-avro on
/// `event`: the same bytes out, an equal event back.
fn check_runtime_codec<E: Event>(event: &E, avro: &[u8]) -> Result<(), String> {
    let bytes = encode_body(event).map_err(|e| format!("encode: {e}"))?;
    if bytes != avro {
        return Err("writes different bytes than apache-avro".to_owned());
    }
    let back = decode_body::<E>(avro, None).map_err(|e| format!("decode: {e}"))?;
    if back != *event {
        return Err("reads a different event back".to_owned());
    }
    Ok(())
}
