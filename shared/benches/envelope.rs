//! Sealing and opening speed of one value, with the targets of the format's issue:
//!
//! - open a 64-byte value sealed to one key: at least 12,000 values/s on one core;
//! - seal a 64-byte value to one key: at least 7,000 values/s;
//! - three recipients: sealing costs about three times as much, opening the same as one
//!   recipient (the key id picks the stanza; there is no trial decryption);
//! - open a 1 MiB value: at least 500 MB/s;
//! - X-Wing (ML-KEM-768 + X25519) recipients: opening within 2x of the X25519 open (ML-KEM
//!   decapsulation adds tens of microseconds); `xwing` and `x25519 + xwing` rows.
//!
//! `cargo bench -p sealant-core --bench envelope`; criterion prints values/s (`elem/s`) and
//! bytes/s. Opening is measured from the base64 text, as the controller does it.
//!
//! The targets are per core, and CI and development machines are shared, so the clock is the
//! benchmark thread's own CPU time (`/proc/thread-self/schedstat`, nanoseconds on CPU) rather
//! than wall time, which would also count the time other processes held the core. Set
//! `SEALANT_BENCH_CLOCK=wall` for wall time; without `/proc` (not Linux) wall time is used.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};

use sealant_core::format::{self, Binding, Envelope, KeyRing, Location, Scope};
use sealant_core::keys::{KeyType, PrivateKey, PublicKey};

const SMALL: usize = 64;
const LARGE: usize = 1 << 20;

fn location() -> Location {
    Location::new("production", "db-creds", "password")
}

fn binding() -> Binding {
    // Invariant: the fixed location is valid for the strict scope.
    #[allow(clippy::unwrap_used)]
    Binding::new(Scope::Strict, &location()).unwrap()
}

fn keys(n: u8) -> Vec<PrivateKey> {
    (1..=n).map(|i| PrivateKey::from_bytes(&[i; 32])).collect()
}

fn publics(keys: &[PrivateKey]) -> Vec<PublicKey> {
    keys.iter().map(|k| k.public().clone()).collect()
}

fn value(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[allow(clippy::unwrap_used)]
fn small_values(c: &mut Criterion<Clock>) {
    let mut group = c.benchmark_group("64-byte value");
    group.throughput(Throughput::Elements(1));
    // Equal, long samples: the CPU-time clock advances in scheduler steps, so each sample must
    // span many of them (criterion's default linear sampling starts with very short ones).
    group.sampling_mode(SamplingMode::Flat);
    let plaintext = value(SMALL);
    let at = location();
    for recipients in [1u8, 3] {
        let keys = keys(recipients);
        let publics = publics(&keys);
        let sealed = format::seal(&plaintext, &binding(), &publics).unwrap();
        // The opener holds the *last* recipient's key: with three recipients its stanza is the
        // third, so any trial decryption would show up as a slower open.
        let ring: KeyRing = keys.into_iter().last().into_iter().collect();
        assert_eq!(
            format::open(&sealed, &at, &ring).unwrap().as_slice(),
            plaintext.as_slice()
        );

        group.bench_function(
            BenchmarkId::new("seal", format!("{recipients} recipients")),
            |b| {
                b.iter(|| {
                    format::seal(
                        black_box(&plaintext),
                        black_box(&binding()),
                        black_box(&publics),
                    )
                    .unwrap()
                })
            },
        );
        group.bench_function(
            BenchmarkId::new("open", format!("{recipients} recipients")),
            |b| {
                b.iter(|| {
                    format::open(black_box(&sealed), black_box(&at), black_box(&ring)).unwrap()
                })
            },
        );
    }
    // The hybrid recipient, alone and next to an X25519 one (the opener holds the X-Wing key).
    for (label, types) in [
        ("xwing", &[KeyType::XWing][..]),
        ("x25519 + xwing", &[KeyType::X25519, KeyType::XWing][..]),
    ] {
        let keys: Vec<PrivateKey> = types
            .iter()
            .enumerate()
            .map(|(i, t)| PrivateKey::from_seed(*t, &[i as u8 + 1; 32]))
            .collect();
        let publics = publics(&keys);
        let sealed = format::seal(&plaintext, &binding(), &publics).unwrap();
        let ring: KeyRing = keys.into_iter().last().into_iter().collect();
        assert_eq!(
            format::open(&sealed, &at, &ring).unwrap().as_slice(),
            plaintext.as_slice()
        );
        group.bench_function(BenchmarkId::new("seal", label), |b| {
            b.iter(|| {
                format::seal(
                    black_box(&plaintext),
                    black_box(&binding()),
                    black_box(&publics),
                )
                .unwrap()
            })
        });
        group.bench_function(BenchmarkId::new("open", label), |b| {
            b.iter(|| format::open(black_box(&sealed), black_box(&at), black_box(&ring)).unwrap())
        });
    }
    group.finish();
}

#[allow(clippy::unwrap_used)]
fn large_value(c: &mut Criterion<Clock>) {
    let mut group = c.benchmark_group("1 MiB value");
    group.throughput(Throughput::Bytes(LARGE as u64));
    group.sampling_mode(SamplingMode::Flat);
    let plaintext = value(LARGE);
    let at = location();
    let keys = keys(1);
    let publics = publics(&keys);
    let sealed = format::seal(&plaintext, &binding(), &publics).unwrap();
    let ring: KeyRing = keys.into_iter().collect();
    assert_eq!(
        format::open(&sealed, &at, &ring).unwrap().as_slice(),
        plaintext.as_slice()
    );

    group.bench_function("open", |b| {
        b.iter(|| format::open(black_box(&sealed), black_box(&at), black_box(&ring)).unwrap())
    });
    // The same without base64 decoding, to see where the time goes.
    let envelope = Envelope::from_base64(&sealed).unwrap();
    group.bench_function("open parsed envelope", |b| {
        b.iter_batched(
            || envelope.clone(),
            |envelope| format::open_envelope(envelope, black_box(&at), black_box(&ring)).unwrap(),
            criterion::BatchSize::LargeInput,
        )
    });
    group.bench_function("seal", |b| {
        b.iter(|| {
            format::seal(
                black_box(&plaintext),
                black_box(&binding()),
                black_box(&publics),
            )
            .unwrap()
        })
    });
    group.finish();
}

/// Thread CPU time where available, wall time otherwise (see the module documentation).
struct Clock {
    wall_since: Option<Instant>,
}

/// Durations are formatted as criterion formats wall time.
static WALL_TIME: WallTime = WallTime;

impl Clock {
    fn new() -> Clock {
        let wall = std::env::var("SEALANT_BENCH_CLOCK").is_ok_and(|v| v == "wall")
            || thread_cpu_time().is_none();
        eprintln!(
            "clock: {}",
            if wall { "wall time" } else { "thread CPU time" }
        );
        Clock {
            wall_since: wall.then(Instant::now),
        }
    }

    fn now(&self) -> Duration {
        match self.wall_since {
            Some(since) => since.elapsed(),
            // Invariant: `new` chose CPU time only after reading it once; /proc does not go away.
            None => thread_cpu_time().unwrap_or_default(),
        }
    }
}

/// Nanoseconds this thread has spent on a CPU: the first field of `/proc/thread-self/schedstat`.
fn thread_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

impl Measurement for Clock {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        self.now()
    }

    fn end(&self, start: Duration) -> Duration {
        self.now().saturating_sub(start)
    }

    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        WALL_TIME.formatter()
    }
}

fn config() -> Criterion<Clock> {
    Criterion::default()
        .with_measurement(Clock::new())
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = small_values, large_value
}
criterion_main!(benches);
